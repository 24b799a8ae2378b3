"""Broker fixtures' costs, per broker and backend: start, per-test isolation, stop, recovery.

    python benchmarks/bench_brokers.py [--rounds N] [--kinds rabbitmq,redis,nats,mqtt] [--external]

`--external` also measures the brokers this machine runs on their standard ports (isolation only:
an external broker is not ours to start or stop). The container backend is measured when a Docker
engine answers and has the images (PYTEST_IPC_<KIND>_IMAGE); a RabbitMQ image is measured with and
without the management plugin.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from pytest_ipc.backends import Backend
from pytest_ipc.backends.broker_container import ContainerBroker
from pytest_ipc.backends.services import BROKERS, PUBLIC_IMAGES, Wanted
from pytest_ipc.brokers import rabbitmq
from pytest_ipc.brokers.endpoint import BROKER_KINDS, BrokerKind
from pytest_ipc.brokers.errors import BrokerControlError
from pytest_ipc.brokers.kinds import KINDS
from pytest_ipc.brokers.server import BrokerRuntime, BrokerServer

BrokerBackend = Backend[BrokerRuntime]

SYSTEM_URLS: dict[BrokerKind, str] = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "redis": "redis://127.0.0.1:6379/0",
    "nats": "nats://127.0.0.1:4222",
    "mqtt": "mqtt://127.0.0.1:1883",
}


def benchmarked_backends(kind: BrokerKind, url: str | None, image: str | None) -> list[tuple[str, BrokerBackend]]:
    """The fixtures' backends; for a RabbitMQ image without management in its name also that image
    with the management plugin on ("container+mgmt": a vhost per test instead of prefixed names)."""
    wanted = Wanted(url, "benchmark", image or PUBLIC_IMAGES[kind])
    backends: list[tuple[str, BrokerBackend]] = [(backend.name, backend) for backend in BROKERS[kind].backends(wanted)]
    if kind == "rabbitmq" and image and "management" not in image:
        recipe = rabbitmq.container_recipe(image, management=True)
        backends.append(("container+mgmt", ContainerBroker(kind, recipe, rabbitmq.external_isolation)))
    return backends


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def isolation_costs(server: BrokerServer, rounds: int, test_body: float) -> list[float]:
    """Seconds per test spent on its namespace: opened, one name used, emptied and removed.

    `test_body` seconds pass between open and close (not counted), as a test would take; with 0 the
    rounds run back to back and work done ahead (RabbitMQ's next vhost) has no time to finish.
    """
    costs = []
    for _ in range(rounds):
        started = time.perf_counter()
        handle = server.isolate().open()
        handle.name("orders")
        opened = time.perf_counter()
        time.sleep(test_body)
        closing = time.perf_counter()
        handle.close()
        costs.append(opened - started + time.perf_counter() - closing)
    return costs


def median_and_p95(costs: list[float]) -> str:
    ordered = sorted(costs)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f}"


def measure(kind: BrokerKind, label: str, backend: BrokerBackend, rounds: int, test_body: float) -> dict[str, str]:
    row = {"broker": kind, "backend": label}
    started = time.perf_counter()
    runtime = backend.start()
    start = time.perf_counter() - started
    closing = 0.0
    try:
        server = BrokerServer(runtime, backend.name, "bench")
        try:
            row["start s"] = f"{start:.2f}" if backend.name != "external" else "-"
            row["isolation ms: in tests"] = median_and_p95(isolation_costs(server, rounds, test_body))
            row["back to back"] = median_and_p95(isolation_costs(server, rounds, 0))
            try:
                row["stop s"] = f"{timed(runtime.stop_broker):.2f}"
                row["recover after stop s"] = f"{timed(runtime.start_broker):.2f}"
                runtime.kill_broker()
                row["recover after kill s"] = f"{timed(runtime.start_broker):.2f}"
            except BrokerControlError:
                row |= {"stop s": "-", "recover after stop s": "-", "recover after kill s": "-"}
        finally:
            closing = timed(server.close)  # what isolation holds (RabbitMQ's vhosts), before the broker goes
    finally:
        row["release s"] = f"{closing + timed(backend.stop):.2f}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=30,
        help="isolation rounds per broker (default 30)",
    )
    parser.add_argument(
        "--test-body", type=float, default=0.05, help="seconds each simulated test takes (default 0.05)"
    )
    parser.add_argument("--kinds", default=",".join(BROKER_KINDS), help="comma-separated broker kinds")
    parser.add_argument(
        "--external",
        action="store_true",
        help="also measure this machine's system brokers",
    )
    options = parser.parse_args()
    rows = []
    for name in options.kinds.split(","):
        if name not in KINDS:
            parser.error(f"unknown broker kind {name!r}; choose from {', '.join(BROKER_KINDS)}")
        kind = KINDS[name].kind
        url = SYSTEM_URLS[kind] if options.external else None
        image = os.environ.get(f"PYTEST_IPC_{kind.upper()}_IMAGE")
        for label, backend in benchmarked_backends(kind, url, image):
            reason = backend.unavailable_reason()
            if reason is not None:
                print(f"# {kind}/{label}: not measured ({reason})")
                continue
            rows.append(measure(kind, label, backend, options.rounds, options.test_body))
            print(f"# {kind}/{label}: done", flush=True)
    columns = list(rows[0]) if rows else []
    widths = {column: max(len(column), *(len(row.get(column, "")) for row in rows)) for column in columns}
    print("  ".join(column.ljust(widths[column]) for column in columns))
    for row in rows:
        print("  ".join(row.get(column, "").ljust(widths[column]) for column in columns))
    print(
        f"isolation ms: median / p95 per test of opening and closing its namespace, with "
        f"{options.test_body * 1000:.0f} ms tests in between, then back to back"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
