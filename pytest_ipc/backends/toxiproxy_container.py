"""The ``container`` backend of the fault proxy: a Toxiproxy server in a container.

By default that is the real Toxiproxy image, pinned (`DEFAULT_IMAGE`); ``PYTEST_IPC_TOXIPROXY_IMAGE``
or the ``image`` argument names another. Images without an entrypoint are taken to be Python images
that run ours (``python -m pytest_ipc.toxiproxy``) from this checkout, mounted read-only at /src:
that is how the suite tests this backend where no registry is reachable
(``local/pytest-ipc-python:debian`` from images/build).

Two placements, because proxies must sit where their clients and upstreams are:

- no network (default): the container shares the host's network namespace (a local engine only), so
  the API and every proxy listen on host loopback and reach host-side upstreams, exactly like the
  embedded server: the same client code and tests run unchanged;
- ``network=NAME``: the container joins that Docker network under ``alias``; the API is published
  on host loopback, proxies listen inside the network (``alias:port``) for other containers.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_ipc import docker_engine
from pytest_ipc._net import LOOPBACK, free_port
from pytest_ipc.backends.container import ContainerBackend, ContainerEndpoint, ContainerSpec
from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer
from pytest_ipc.client.errors import ToxiproxyError

DEFAULT_IMAGE = "ghcr.io/shopify/toxiproxy:2.12.0"
IMAGE_ENV = "PYTEST_IPC_TOXIPROXY_IMAGE"
API_PORT = 8474
SOURCE_MOUNT = "/src/pytest_ipc"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def configured_image() -> str:
    """The image to run: ``PYTEST_IPC_TOXIPROXY_IMAGE`` when set, else the pinned real Toxiproxy."""
    return os.environ.get(IMAGE_ENV, "").strip() or DEFAULT_IMAGE


def _api_answers(url: str) -> bool:
    with ToxiproxyClient(url, timeout=1.0) as client:
        try:
            client.version()
        except ToxiproxyError:
            return False
    return True


def _has_entrypoint(image: str) -> bool:
    import docker

    client = docker.from_env(timeout=docker_engine.PING_TIMEOUT)
    try:
        return bool(client.images.get(image).attrs["Config"].get("Entrypoint"))
    finally:
        client.close()


class ToxiproxyContainerBackend:
    """Runs a Toxiproxy server in a container; `start` returns the same handle as the embedded one."""

    name = "container"

    def __init__(
        self, image: str | None = None, *, network: str | None = None, alias: str = "toxiproxy", pull: bool = False
    ) -> None:
        self.image = image or configured_image()
        self.network = network
        self.alias = alias
        self.pull = pull
        self._container: ContainerBackend | None = None
        self._client: ToxiproxyClient | None = None
        self._host_api_port = 0  # host networking only: the API's loopback port, chosen per start

    def unavailable_reason(self) -> str | None:
        reason = docker_engine.docker_unavailable_reason()
        if reason is None and self.network is None and not docker_engine.engine_is_local():
            reason = f"the engine at {docker_engine.docker_host()} is remote: host networking needs a local one"
        return reason or docker_engine.missing_image_reason(self.image, self.pull)

    def start(self) -> ToxiproxyServer:
        if self._container is not None:
            raise RuntimeError(f"Toxiproxy container ({self.image}) already started; stop() it first")
        docker_engine.ensure_image(self.image, self.pull)
        self._container = ContainerBackend(self._spec())
        endpoint = self._container.start()
        url = self._api_url(endpoint)
        self._client = ToxiproxyClient(url)
        return ToxiproxyServer(url, self._client, self.name)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._container is not None:
            self._container.stop()
            self._container = None

    @property
    def container_id(self) -> str | None:
        return self._container.endpoint.container_id if self._container is not None else None

    def logs(self) -> str:
        return self._container.logs() if self._container is not None else ""

    def _spec(self) -> ContainerSpec:
        if self.network is None:  # host namespace: the API takes a free loopback port directly
            api_host, api_port, ports, network = LOOPBACK, free_port(), {}, "host"
        else:
            api_host, api_port, ports, network = "0.0.0.0", API_PORT, {"api": API_PORT}, self.network
        command = [f"-host={api_host}", f"-port={api_port}"]
        volumes: dict[str, str] = {}
        if not _has_entrypoint(self.image):
            command = ["python", "-m", "pytest_ipc.toxiproxy", *command]
            volumes[str(PACKAGE_DIR)] = SOURCE_MOUNT
        self._host_api_port = api_port
        return ContainerSpec(
            self.image,
            ports,
            command=command,
            volumes=volumes,
            network=network,
            network_aliases=[self.alias] if self.network is not None else [],
            ready=lambda endpoint: _api_answers(self._api_url(endpoint)),
            ready_timeout=30.0,
        )

    def _api_url(self, endpoint: ContainerEndpoint) -> str:
        port = endpoint.ports.get("api", self._host_api_port)
        return f"http://{endpoint.host}:{port}"


__all__ = ["DEFAULT_IMAGE", "IMAGE_ENV", "ToxiproxyContainerBackend", "configured_image"]
