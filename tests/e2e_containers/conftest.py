"""The end-to-end topology: a service container that calls an HTTP stub and Redis through proxies.

    test ──> service (python image, app/service.py) ──> toxiproxy ──> redis       (container)
                                                         ├──────> wiremock    (container, alias)
                                                         └──────> HTTP stub   (this process, on
                                                                  the network's gateway)

Built once per session on `ipc_session_network`; tests fault the proxies through `ipc_network`,
which heals them afterwards. The embedded stub and WireMock are two servers of the same `HttpStub`
API: the same definitions go on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_ipc.docker_engine import missing_image_reason
from pytest_ipc.network import NetworkProxy, NetworkService, ServiceNetwork, http_ready
from pytest_ipc.network.services import TOXIPROXY_ALIAS
from pytest_ipc.stub import HttpStub
from tests import images

APP_DIR = Path(__file__).resolve().parent / "app"


@dataclass(frozen=True)
class Topology:
    service: NetworkService
    redis: NetworkService
    stub: HttpStub
    to_stub: NetworkProxy
    to_redis: NetworkProxy
    wiremock: HttpStub | None
    to_wiremock: NetworkProxy | None
    wiremock_missing: str | None

    def proxy_to(self, dependency: str) -> NetworkProxy:
        """The proxy on the path to `dependency`; skips the test when that is WireMock and it cannot run."""
        proxy = {"http": self.to_stub, "wiremock": self.to_wiremock, "redis": self.to_redis}[dependency]
        if proxy is None:
            pytest.skip(f"no WireMock: {self.wiremock_missing}")
        return proxy

    def stub_of(self, dependency: str) -> HttpStub:
        """The stub that serves `dependency` ("http": the embedded one, "wiremock")."""
        stub = self.wiremock if dependency == "wiremock" else self.stub
        assert stub is not None
        return stub


@pytest.fixture(scope="session")
def session_stub(ipc_session_network: ServiceNetwork) -> Iterator[HttpStub]:
    with HttpStub(host=ipc_session_network.gateway, allowed_hosts=[TOXIPROXY_ALIAS]) as stub:  # reached as toxiproxy:port
        yield stub


@pytest.fixture(scope="session")
def topology(ipc_session_network: ServiceNetwork, session_stub: HttpStub) -> Topology:
    network = ipc_session_network
    # No registry here: the local images stand in for the public ones the settings default to.
    network.images.update(toxiproxy=images.TOXIPROXY, stub=images.WIREMOCK)
    redis = network.run_broker("redis", image=images.REDIS)
    to_redis = network.proxy(redis.address("main"), name="redis")
    to_stub = network.proxy(f"{session_stub.host}:{session_stub.port}", name="stub")
    wiremock_missing = missing_image_reason(images.WIREMOCK)
    wiremock = to_wiremock = None
    if wiremock_missing is None:
        wiremock = network.run_stub("wiremock")
        to_wiremock = network.proxy(wiremock.address("http"), name="wiremock")
    service = network.run(
        images.PYTHON,
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
    wiremock_stub = wiremock.stub if wiremock else None
    return Topology(service, redis, session_stub, to_stub, to_redis, wiremock_stub, to_wiremock, wiremock_missing)


@pytest.fixture
def e2e(topology: Topology, ipc_network: ServiceNetwork) -> Iterator[Topology]:
    """The topology with healed proxies; both stubs answer /price and are reset after the test."""
    stubs = [stub for stub in (topology.stub, topology.wiremock) if stub is not None]
    for stub in stubs:
        stub.expect("GET", "/price").respond(json={"price": 42})
    yield topology
    for stub in stubs:
        stub.reset()
