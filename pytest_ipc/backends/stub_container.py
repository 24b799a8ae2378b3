"""The ``container`` backend of the HTTP stub: WireMock in a container, serving `HttpStub`'s API.

By default that is the public WireMock image, pinned (`DEFAULT_IMAGE`; ``--ipc-stub-image`` names
another): any image that serves WireMock 3 on port 8080 without a command will do. The stub's
routes are published to it as mappings and its journal is read back (`pytest_ipc.stub.wiremock`);
what WireMock cannot express is refused with `WireMockUnsupported`. `wiremock_spec` is also what
`ServiceNetwork.run_stub` runs on a Docker network.
"""

from __future__ import annotations

import httpx

from pytest_ipc.backends.container import (
    ContainerBackend,
    ContainerEndpoint,
    ContainerSpec,
)
from pytest_ipc.backends.services import PUBLIC_IMAGES
from pytest_ipc.stub.server import HttpStub

DEFAULT_IMAGE = PUBLIC_IMAGES["stub"]
HTTP_PORT = 8080
READY_TIMEOUT = 60.0  # the JVM takes seconds to boot on two busy cores


def wiremock_url(endpoint: ContainerEndpoint) -> str:
    """The started container's base URL from the test process."""
    return f"http://{endpoint.host}:{endpoint.ports['http']}"


def _healthy(endpoint: ContainerEndpoint) -> bool:
    return httpx.get(f"{wiremock_url(endpoint)}/__admin/health", timeout=2.0).status_code == 200


def wiremock_spec(image: str = DEFAULT_IMAGE) -> ContainerSpec:
    """WireMock on the port named "http", ready once its admin API says it is healthy."""
    return ContainerSpec(image, {"http": HTTP_PORT}, ready=_healthy, ready_timeout=READY_TIMEOUT)


class WireMockContainerBackend:
    """WireMock alone in a container, published on host loopback; `start` returns a stub it serves."""

    name = "container"

    def __init__(self, image: str = DEFAULT_IMAGE) -> None:
        self.image = image
        self._container = ContainerBackend(wiremock_spec(image))
        self._stub: HttpStub | None = None

    def unavailable_reason(self) -> str | None:
        return self._container.unavailable_reason()

    def start(self) -> HttpStub:
        endpoint = self._container.start()
        try:
            stub = HttpStub.on_wiremock(wiremock_url(endpoint)).start()
        except BaseException:
            self._container.stop()
            raise
        stub.backend = self.name
        self._stub = stub
        return stub

    def stop(self) -> None:
        """Remove the container. Idempotent."""
        if self._stub is not None:
            self._stub.stop()
            self._stub = None
        self._container.stop()

    def logs(self) -> str:
        return self._container.logs()


__all__ = ["DEFAULT_IMAGE", "WireMockContainerBackend", "wiremock_spec", "wiremock_url"]
