"""The end-to-end topology: a service container that calls an HTTP stub and Redis through proxies.

    test ──> service (python image, app/service.py) ──> toxiproxy ──> redis       (container)
                                                         ├──────> wiremock    (container, alias)
                                                         └──────> HTTP stub   (this process, on
                                                                  the network's gateway)

Built once per session on `ipc_session_network`; tests fault the proxies through `ipc_network`,
which heals them afterwards. The embedded stub and WireMock serve the same definitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_ipc.backends.toxiproxy_container import DEFAULT_IMAGE
from pytest_ipc.docker_engine import missing_image_reason
from pytest_ipc.network import NetworkProxy, NetworkService, ServiceNetwork, http_ready
from pytest_ipc.network.services import TOXIPROXY_ALIAS
from pytest_ipc.network.wiremock import WireMockAdmin, missing_jar_reason, wiremock_image, wiremock_run_arguments
from pytest_ipc.stub import HttpStub

APP_DIR = Path(__file__).resolve().parent / "app"
PYTHON_IMAGE = "local/pytest-ipc-python:debian"
REDIS_IMAGE = "local/redis:debian"


@dataclass(frozen=True)
class Topology:
    service: NetworkService
    redis: NetworkService
    stub: HttpStub
    to_stub: NetworkProxy
    to_redis: NetworkProxy
    wiremock: WireMockAdmin | None
    to_wiremock: NetworkProxy | None
    wiremock_missing: str | None

    def proxy_to(self, dependency: str) -> NetworkProxy:
        """The proxy on the path to `dependency`; skips the test when that is WireMock and it cannot run."""
        proxy = {"http": self.to_stub, "wiremock": self.to_wiremock, "redis": self.to_redis}[dependency]
        if proxy is None:
            pytest.skip(f"no WireMock: {self.wiremock_missing}")
        return proxy


@pytest.fixture(scope="session")
def session_stub(ipc_session_network: ServiceNetwork) -> Iterator[HttpStub]:
    with HttpStub(host=ipc_session_network.gateway, allowed_hosts=[TOXIPROXY_ALIAS]) as stub:  # reached as toxiproxy:port
        yield stub


@pytest.fixture(scope="session")
def topology(ipc_session_network: ServiceNetwork, session_stub: HttpStub) -> Topology:
    network = ipc_session_network
    if missing_image_reason(network.toxiproxy_image or DEFAULT_IMAGE) is not None:
        # No registry here: our server in the Python image stands in for the real Toxiproxy, which
        # these tests use when it is configured (--ipc-toxiproxy-image) and present.
        network.toxiproxy_image = PYTHON_IMAGE
    redis = network.run_broker("redis", image=REDIS_IMAGE)
    to_redis = network.proxy(redis.address("main"), name="redis")
    to_stub = network.proxy(f"{session_stub.host}:{session_stub.port}", name="stub")
    wiremock_missing = missing_jar_reason() or missing_image_reason(wiremock_image())
    wiremock = to_wiremock = None
    if wiremock_missing is None:
        wiremock = network.run(alias="wiremock", **wiremock_run_arguments())
        to_wiremock = network.proxy(wiremock.address("http"), name="wiremock")
    service = network.run(
        PYTHON_IMAGE,
        "service",
        ports={"http": 8080},
        env={
            "STUB_URL": f"http://{to_stub.address}",
            "WIREMOCK_URL": f"http://{to_wiremock.address}" if to_wiremock else "http://wiremock.invalid",
            "REDIS_ADDRESS": to_redis.address,
        },
        command=["python", "/app/service.py"],
        volumes={str(APP_DIR): "/app"},
        ready=http_ready("http", "/health"),
    )
    admin = WireMockAdmin(wiremock.host_url("http")) if wiremock else None
    return Topology(service, redis, session_stub, to_stub, to_redis, admin, to_wiremock, wiremock_missing)


@pytest.fixture
def e2e(topology: Topology, ipc_network: ServiceNetwork) -> Iterator[Topology]:
    """The topology with healed proxies; both stubs answer /price and are reset after the test."""
    topology.stub.expect("GET", "/price").respond(json={"price": 42})
    if topology.wiremock is not None:
        topology.wiremock.load(topology.stub)
    yield topology
    topology.stub.reset()


@pytest.fixture
def docker_client() -> Iterator[object]:
    import docker

    client = docker.from_env()
    yield client
    client.close()
