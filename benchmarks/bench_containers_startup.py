"""Start-up figures of the end-to-end components, per backend: median seconds from start to ready.

    python benchmarks/bench_containers_startup.py [--rounds N] [--toxiproxy-image IMAGE] [--wiremock-image IMAGE]

Embedded components run in this process; container ones on the Docker engine of DOCKER_HOST, with
the local images of images/build by default (the public ones, ghcr.io/shopify/toxiproxy:2.12.0 and
wiremock/wiremock:3.13.2, work once pulled). "Ready" is each component's own readiness probe: the Toxiproxy API answers
/version, WireMock /__admin/health, Redis PING, the Python service /health.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pytest_ipc.backends.stub_container import WireMockContainerBackend
from pytest_ipc.backends.toxiproxy_container import ToxiproxyContainerBackend
from pytest_ipc.backends.toxiproxy_embedded import EmbeddedToxiproxyBackend
from pytest_ipc.network import ServiceNetwork, http_ready
from pytest_ipc.stub import HttpStub

PYTHON_IMAGE = "local/pytest-ipc-python:debian"
TOXIPROXY_IMAGE = "local/toxiproxy:debian"
WIREMOCK_IMAGE = "local/wiremock:debian"
SERVICE_APP = Path(__file__).resolve().parent.parent / "tests" / "e2e_containers" / "app"


def timed(start: Callable[[], object], stop: Callable[[], object]) -> float:
    started = time.perf_counter()
    start()
    seconds = time.perf_counter() - started
    stop()
    return seconds


def embedded_toxiproxy() -> float:
    backend = EmbeddedToxiproxyBackend()
    return timed(backend.start, backend.stop)


def embedded_stub() -> float:
    stub = HttpStub()
    return timed(stub.start, stub.stop)


def container_toxiproxy(image: str) -> float:
    backend = ToxiproxyContainerBackend(image)
    return timed(backend.start, backend.stop)


def container_wiremock(image: str) -> float:
    backend = WireMockContainerBackend(image)
    return timed(backend.start, backend.stop)


def on_network(toxiproxy_image: str, wiremock_image: str) -> dict[str, float]:
    """One network with every component on it; the figures `ServiceNetwork` records."""
    started = time.perf_counter()
    with ServiceNetwork(images={"toxiproxy": toxiproxy_image, "stub": wiremock_image}) as network:
        figures = {"network create": time.perf_counter() - started}
        network.proxy("redis:6379")  # starts the network's Toxiproxy
        figures["toxiproxy (network)"] = network.toxiproxy_startup_duration or 0.0
        redis = network.run_broker("redis", image="local/redis:debian")
        wiremock = network.run_stub("wiremock")
        service = network.run(
            PYTHON_IMAGE,
            "service",
            ports={"http": 8080},
            command=["python", "/app/service.py"],
            volumes={str(SERVICE_APP): "/app"},
            ready=http_ready("http", "/health"),
        )
        figures |= {
            "redis (network)": redis.startup_duration,
            "wiremock (network)": wiremock.startup_duration,
            "python service (network)": service.startup_duration,
        }
        closing = time.perf_counter()
    figures["teardown, all of it"] = time.perf_counter() - closing
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--toxiproxy-image", default=TOXIPROXY_IMAGE)
    parser.add_argument("--wiremock-image", default=WIREMOCK_IMAGE)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds)

    for _ in range(args.rounds):
        add("toxiproxy (embedded)", embedded_toxiproxy())
        add("http stub (embedded)", embedded_stub())
        add(f"toxiproxy (container, host network, {args.toxiproxy_image})", container_toxiproxy(args.toxiproxy_image))
        add(f"wiremock (container, {args.wiremock_image})", container_wiremock(args.wiremock_image))
        for name, seconds in on_network(args.toxiproxy_image, args.wiremock_image).items():
            add(name, seconds)
    for name, values in samples.items():
        print(f"{statistics.median(values):8.3f} s  {name}  (median of {len(values)})")


if __name__ == "__main__":
    main()
