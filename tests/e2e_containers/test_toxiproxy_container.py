"""The container backend of the fault proxy, driven by the same client as the embedded server.

The real image (`DEFAULT_IMAGE`) needs a registry; these tests run the local Python image, which
serves our own server from this checkout. Run them against the real one with
``PYTEST_IPC_TOXIPROXY_IMAGE=ghcr.io/shopify/toxiproxy:2.12.0`` after a ``docker pull``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from pytest_ipc.backends.toxiproxy_container import (
    DEFAULT_IMAGE,
    IMAGE_ENV,
    ToxiproxyContainerBackend,
    configured_image,
)
from pytest_ipc.client.client import ToxiproxyServer
from pytest_ipc.stub import HttpStub

from .conftest import PYTHON_IMAGE

pytestmark = pytest.mark.docker

IMAGE = os.environ.get(IMAGE_ENV) or PYTHON_IMAGE
LATENCY_MS = 400


@pytest.fixture(scope="module")
def backend() -> Iterator[ToxiproxyContainerBackend]:
    backend = ToxiproxyContainerBackend(IMAGE)
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


def test_the_container_serves_the_toxiproxy_api(server: ToxiproxyServer) -> None:
    assert server.backend == "container"
    assert server.url.startswith("http://127.0.0.1:")
    assert server.client.version() == "2.12.0"


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


def test_stop_removes_the_container(docker_client: object) -> None:
    backend = ToxiproxyContainerBackend(IMAGE)
    backend.start()
    container_id = backend.container_id
    backend.stop()

    assert not docker_client.containers.list(all=True, filters={"id": container_id})  # type: ignore[attr-defined]


def test_the_image_is_pinned_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IMAGE_ENV, raising=False)
    assert configured_image() == DEFAULT_IMAGE == "ghcr.io/shopify/toxiproxy:2.12.0"
    monkeypatch.setenv(IMAGE_ENV, "example/toxiproxy:9")
    assert configured_image() == ToxiproxyContainerBackend().image == "example/toxiproxy:9"


def test_a_missing_image_is_a_reason_that_says_how_to_get_it() -> None:
    reason = ToxiproxyContainerBackend("example.invalid/toxiproxy:0").unavailable_reason()
    assert reason is not None and "not present locally" in reason and "docker pull" in reason
    local_reason = ToxiproxyContainerBackend("local/no-such-toxiproxy:debian").unavailable_reason()
    assert local_reason is not None and "images/build" in local_reason
