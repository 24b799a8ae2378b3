"""WireMock in a container, serving `HttpStub` definitions (translated by `pytest_ipc.stub.wiremock`).

The image only needs Java: images/build's ``local/wiremock:debian`` (``PYTEST_IPC_WIREMOCK_IMAGE``
names another). The standalone jar comes from the npm registry, which is reachable where image
registries are not::

    npm pack wiremock@3.13.2 && tar xzf wiremock-3.13.2.tgz package/build/wiremock-standalone-3.13.2.jar

and is mounted read-only from ``PYTEST_IPC_WIREMOCK_JAR`` (default `DEFAULT_JAR`). On a network,
start it with `ServiceNetwork.run(**wiremock_run_arguments())`; alone, `WireMockContainerBackend`
publishes it on host loopback. Either way `WireMockAdmin(url).load(stub)` (re)loads the mappings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from pytest_ipc import docker_engine
from pytest_ipc.backends.container import ContainerBackend, ContainerSpec
from pytest_ipc.network.probes import http_ready
from pytest_ipc.stub.server import HttpStub
from pytest_ipc.stub.wiremock import wiremock_mappings

WIREMOCK_VERSION = "3.13.2"
DEFAULT_IMAGE = "local/wiremock:debian"
DEFAULT_JAR = Path.home() / ".cache" / "pytest-ipc" / f"wiremock-standalone-{WIREMOCK_VERSION}.jar"
IMAGE_ENV = "PYTEST_IPC_WIREMOCK_IMAGE"
JAR_ENV = "PYTEST_IPC_WIREMOCK_JAR"
JAR_IN_CONTAINER = "/opt/wiremock/wiremock-standalone.jar"
HTTP_PORT = 8080
# The JVM takes a few seconds to boot on two busy cores.
READY_TIMEOUT = 60.0


def wiremock_image() -> str:
    return os.environ.get(IMAGE_ENV, "").strip() or DEFAULT_IMAGE


def wiremock_jar() -> Path:
    return Path(os.environ.get(JAR_ENV, "").strip() or DEFAULT_JAR)


def missing_jar_reason() -> str | None:
    jar = wiremock_jar()
    if jar.is_file():
        return None
    return (
        f"no WireMock jar at {jar}; get it with `npm pack wiremock@{WIREMOCK_VERSION}` (the tarball's "
        f"package/build/wiremock-standalone-{WIREMOCK_VERSION}.jar) and point {JAR_ENV} at it"
    )


def wiremock_run_arguments() -> dict[str, Any]:
    """Keyword arguments for `ServiceNetwork.run` (with an alias) that start WireMock on port "http"."""
    return {
        "image": wiremock_image(),
        "ports": {"http": HTTP_PORT},
        "volumes": {str(wiremock_jar()): JAR_IN_CONTAINER},
        "ready": http_ready("http", "/__admin/health", range(200, 300)),
        "ready_timeout": READY_TIMEOUT,
    }


class WireMockAdmin:
    """WireMock's admin API, as far as a stub needs it: replace the mappings, count the requests."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def load(self, stub: HttpStub) -> None:
        """Replace every mapping (and the request log and scenarios) with `stub`'s definitions."""
        mappings = wiremock_mappings(stub)  # raises WireMockUnsupported before anything changes
        with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
            client.post("/__admin/reset").raise_for_status()
            if mappings:
                client.post("/__admin/mappings/import", json={"mappings": mappings}).raise_for_status()

    def request_count(self, method: str, path: str) -> int:
        with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
            reply = client.post("/__admin/requests/count", json={"method": method, "url": path})
            reply.raise_for_status()
            return int(reply.json()["count"])


class WireMockContainerBackend:
    """WireMock alone in a container, published on host loopback; `start` returns its base URL."""

    name = "container"

    def __init__(self) -> None:
        arguments = wiremock_run_arguments()
        self._container = ContainerBackend(ContainerSpec(**arguments))

    def unavailable_reason(self) -> str | None:
        engine_reason = docker_engine.docker_unavailable_reason()
        return engine_reason or missing_jar_reason() or self._container.unavailable_reason()

    def start(self) -> str:
        endpoint = self._container.start()
        return f"http://{endpoint.host}:{endpoint.ports['http']}"

    def stop(self) -> None:
        self._container.stop()

    def logs(self) -> str:
        return self._container.logs()


__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_JAR",
    "WIREMOCK_VERSION",
    "WireMockAdmin",
    "WireMockContainerBackend",
    "missing_jar_reason",
    "wiremock_image",
    "wiremock_jar",
    "wiremock_run_arguments",
]
