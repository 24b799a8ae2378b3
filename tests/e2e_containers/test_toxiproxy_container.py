"""The container backend of the fault proxy, driven by the same client as the embedded server.

The real image (`DEFAULT_IMAGE`) needs a registry; these tests run the local image (our own server,
taking the real one's flags). Run them against the real one with
``PYTEST_IPC_TOXIPROXY_IMAGE=ghcr.io/shopify/toxiproxy:2.12.0`` after a ``docker pull``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_ipc.backends import local, toxiproxy_container
from pytest_ipc.backends.toxiproxy_container import DEFAULT_IMAGE, ToxiproxyContainerBackend
from pytest_ipc.client.client import ToxiproxyServer
from pytest_ipc.stub import HttpStub
from tests import images

LATENCY_MS = 400


@pytest.fixture(scope="module")
def backend() -> Iterator[ToxiproxyContainerBackend]:
    backend = ToxiproxyContainerBackend(images.TOXIPROXY)
    if (reason := backend.unavailable_reason()) is not None:
        pytest.skip(reason)
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def server(backend: ToxiproxyContainerBackend) -> ToxiproxyServer:
    return backend.start()


@pytest.fixture
def upstream() -> Iterator[HttpStub]:
    with HttpStub() as stub:
        stub.expect("GET", "/ping").respond(json={"pong": True})
        yield stub


@pytest.mark.docker
def test_the_container_serves_the_toxiproxy_api(server: ToxiproxyServer) -> None:
    assert server.backend == "container"
    assert server.url.startswith("http://127.0.0.1:")
    assert server.client.version() == "2.12.0"


@pytest.mark.docker
def test_proxies_reach_host_upstreams_and_carry_faults(server: ToxiproxyServer, upstream: HttpStub) -> None:
    proxy = server.client.create_proxy("ping", upstream.url.removeprefix("http://"))
    try:
        url = f"http://{proxy.host}:{proxy.port}/ping"
        assert httpx.get(url, timeout=5).json() == {"pong": True}

        with proxy.latency(LATENCY_MS / 1000):
            started = time.monotonic()
            assert httpx.get(url, timeout=5).status_code == 200
            assert time.monotonic() - started >= LATENCY_MS / 1000

        with proxy.down(), pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=5)
    finally:
        proxy.delete()


@pytest.mark.docker
def test_stop_removes_the_container(docker_client: Any) -> None:
    backend = ToxiproxyContainerBackend(images.TOXIPROXY)
    backend.start()
    container_id = backend.container_id
    backend.stop()

    assert not docker_client.containers.list(all=True, filters={"id": container_id})


class TakenPort:
    """What `reserve_port` returns, for a port another program already listens on."""

    def __init__(self, port: int) -> None:
        self.port = port

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        pass


@pytest.mark.docker
def test_the_api_port_is_reserved_and_a_lost_one_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's loopback port is reserved before the container starts; when a program that binds
    fixed ports took it anyway, the server says "address already in use" and the start moves on."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        reservations = iter([TakenPort(taken)])
        monkeypatch.setattr(toxiproxy_container, "reserve_port", lambda: next(reservations, None) or local.reserve_port())
        backend = ToxiproxyContainerBackend(images.TOXIPROXY)
        try:
            server = backend.start()
            port = httpx.URL(server.url).port
            assert port != taken
            assert server.client.version() == "2.12.0"
        finally:
            backend.stop()


def test_the_default_image_is_the_pinned_public_one() -> None:
    assert ToxiproxyContainerBackend().image == DEFAULT_IMAGE == "ghcr.io/shopify/toxiproxy:2.12.0"


@pytest.mark.docker
def test_a_missing_image_is_a_reason_that_says_how_to_get_it() -> None:
    reason = ToxiproxyContainerBackend("example.invalid/toxiproxy:0").unavailable_reason()
    assert reason == (
        "image example.invalid/toxiproxy:0 not present locally; pull it (docker pull example.invalid/toxiproxy:0) "
        "or name an image the engine has"
    )
