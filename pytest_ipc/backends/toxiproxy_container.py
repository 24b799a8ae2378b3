"""The ``container`` backend of the fault proxy: a Toxiproxy server in a container.

By default that is the real Toxiproxy image, pinned (`DEFAULT_IMAGE`; ``--ipc-toxiproxy-image``
names another). Any image will do that serves the Toxiproxy API and takes ``toxiproxy-server``'s
flags as its command (``-host=IP -port=N``), as the real image's entrypoint does.

Two placements, because proxies must sit where their clients and upstreams are:

- no network (default): the container shares the host's network namespace (a local engine only), so
  the API and every proxy listen on host loopback and reach host-side upstreams, exactly like the
  embedded server: the same client code and tests run unchanged. The API's port is reserved on
  loopback for the container's life (`reserve_port`); a start that loses it anyway (the server says
  "address already in use") starts again on another one;
- ``network=NAME``: the container joins that Docker network under ``alias``; the API is published
  on host loopback, proxies listen inside the network (``alias:port``) for other containers.
"""

from __future__ import annotations

import socket

from pytest_ipc import docker_engine
from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.container import (
    HOST_NETWORK,
    ContainerBackend,
    ContainerEndpoint,
    ContainerSpec,
    ContainerStartError,
    host_network_reason,
    lost_port_race,
)
from pytest_ipc.backends.local import reserve_port
from pytest_ipc.backends.services import PUBLIC_IMAGES
from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer
from pytest_ipc.client.errors import ToxiproxyError

DEFAULT_IMAGE = PUBLIC_IMAGES["toxiproxy"]
API_PORT = 8474
#: Starts on another reserved port before a lost port race becomes the error (host networking).
PORT_ATTEMPTS = 3


def _api_answers(url: str) -> bool:
    with ToxiproxyClient(url, timeout=1.0) as client:
        try:
            client.version()
        except ToxiproxyError:
            return False
    return True


class ToxiproxyContainerBackend:
    """Runs a Toxiproxy server in a container; `start` returns the same handle as the embedded one."""

    name = "container"

    def __init__(
        self, image: str = DEFAULT_IMAGE, *, network: str | None = None, alias: str = "toxiproxy", pull: bool = False
    ) -> None:
        self.image = image
        self.network = network
        self.alias = alias
        self.pull = pull
        self._container: ContainerBackend | None = None
        self._client: ToxiproxyClient | None = None
        self._api_port: socket.socket | None = None  # host networking: the API's reserved loopback port

    def unavailable_reason(self) -> str | None:
        reason = docker_engine.docker_unavailable_reason()
        if reason is None and self.network is None:
            reason = host_network_reason()
        return reason or docker_engine.missing_image_reason(self.image, self.pull)

    def start(self) -> ToxiproxyServer:
        """Start the container and wait until its API answers; nothing is left on failure."""
        if self._container is not None:
            raise IpcUsageError(f"Toxiproxy container ({self.image}) already started; stop() it first")
        docker_engine.ensure_image(self.image, self.pull)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                if self.network is None:
                    self._api_port = reserve_port()
                self._container = ContainerBackend(self._spec())
                url = self._api_url(self._container.start())
            except ContainerStartError as error:
                self.stop()
                if attempt == PORT_ATTEMPTS or self.network is not None or not lost_port_race(error):
                    raise
                continue
            except BaseException:
                self.stop()
                raise
            self._client = ToxiproxyClient(url)
            return ToxiproxyServer(url, self._client, self.name)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self) -> None:
        """Remove the container and give its port back. Idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._container is not None:
            self._container.stop()
            self._container = None
        if self._api_port is not None:
            self._api_port.close()
            self._api_port = None

    @property
    def container_id(self) -> str | None:
        return self._container.endpoint.container_id if self._container is not None else None

    def logs(self) -> str:
        return self._container.logs() if self._container is not None else ""

    def _spec(self) -> ContainerSpec:
        if self._api_port is not None:  # host namespace: the API listens on the reserved loopback port
            command = [f"-host={LOOPBACK}", f"-port={self._api_port.getsockname()[1]}"]
            return ContainerSpec(self.image, {}, command=command, network=HOST_NETWORK, ready=self._ready, ready_timeout=30.0)
        return ContainerSpec(
            self.image,
            {"api": API_PORT},
            command=["-host=0.0.0.0", f"-port={API_PORT}"],
            network=self.network,
            network_aliases=[self.alias],
            ready=self._ready,
            ready_timeout=30.0,
        )

    def _ready(self, endpoint: ContainerEndpoint) -> bool:
        return _api_answers(self._api_url(endpoint))

    def _api_url(self, endpoint: ContainerEndpoint) -> str:
        port = endpoint.ports["api"] if "api" in endpoint.ports else self._host_api_port()
        return f"http://{endpoint.host}:{port}"

    def _host_api_port(self) -> int:
        if self._api_port is None:
            raise IpcUsageError(f"Toxiproxy container ({self.image}) is not started")
        return int(self._api_port.getsockname()[1])


__all__ = ["DEFAULT_IMAGE", "ToxiproxyContainerBackend"]
