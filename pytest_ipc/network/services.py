"""A private Docker network with services on it, and fault proxies between them.

`ServiceNetwork` owns one bridge network and every container it starts on it; `close()` removes
them all (the fixtures call it at the end of the session or test, also after failures and Ctrl-C;
a SIGKILLed session is swept by the next one). Each service has an alias, so containers reach it as
``alias:port`` (`NetworkService.address`) while the test reaches it on host loopback
(`NetworkService.host_address`)::

    redis = network.run_broker("redis")                   # the broker fixtures' image and probe
    to_redis = network.proxy(redis.address("main"))       # toxiproxy:<port>, inside the network
    prices = network.run_stub("prices")                   # WireMock, driven as an HttpStub
    prices.stub.expect("GET", "/price").respond(json={"price": 42})
    app = network.run("my/app:1", "app", ports={"http": 8080}, env={"REDIS": to_redis.address})
    with to_redis.proxy.latency(0.5):
        ...  # the app's own calls to Redis are now slow

Images are the services' (`images`, from the ``--ipc-<service>-image`` settings, default the pinned
public ones). Servers the test runs itself (an embedded `HttpStub`, say) join by binding to
`network.gateway`, the host's address on the network, which only this host and its containers reach.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Self

from pytest_ipc import docker_engine
from pytest_ipc._errors import IpcUsageError
from pytest_ipc.backends.container import (
    ContainerBackend,
    ContainerEndpoint,
    ContainerSpec,
    ContainerStartError,
    ReadinessProbe,
    private_network,
)
from pytest_ipc.backends.services import PUBLIC_IMAGES
from pytest_ipc.backends.stub_container import DEFAULT_IMAGE as WIREMOCK_IMAGE
from pytest_ipc.backends.stub_container import wiremock_spec, wiremock_url
from pytest_ipc.backends.toxiproxy_container import DEFAULT_IMAGE as TOXIPROXY_IMAGE
from pytest_ipc.backends.toxiproxy_container import ToxiproxyContainerBackend
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.client.client import ToxiproxyServer
from pytest_ipc.client.proxy import Proxy
from pytest_ipc.stub.server import HttpStub

ALIAS_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
TOXIPROXY_ALIAS = "toxiproxy"


@dataclass(frozen=True)
class NetworkService:
    """One container on the network: its alias, its ports inside and outside, and its controls.

    For a broker (`ServiceNetwork.run_broker`), `broker` is its host-side endpoint for the test's
    own clients (``broker.url``); for WireMock (`ServiceNetwork.run_stub`), `stub` is the `HttpStub`
    it serves. `startup_duration` is the seconds it took to be ready.
    """

    alias: str
    ports: Mapping[str, int]
    endpoint: ContainerEndpoint
    backend: ContainerBackend
    startup_duration: float
    broker: BrokerEndpoint | None = None
    stub: HttpStub | None = None

    def address(self, port: str) -> str:
        """``alias:port`` as other containers on the network reach it."""
        return f"{self.alias}:{self._port(port)}"

    def host_address(self, port: str) -> tuple[str, int]:
        """(host, port) as the test process reaches it (published on loopback for a local engine)."""
        self._port(port)
        return self.endpoint.host, self.endpoint.ports[port]

    def host_url(self, port: str, path: str = "/", scheme: str = "http") -> str:
        host, host_port = self.host_address(port)
        return f"{scheme}://{host}:{host_port}{path}"

    def logs(self) -> str:
        return self.backend.logs()

    def _port(self, name: str) -> int:
        if name not in self.ports:
            raise KeyError(f"{self.alias} has no port named {name!r}; it has: {', '.join(self.ports) or 'none'}")
        return self.ports[name]


@dataclass(frozen=True)
class NetworkProxy:
    """A fault proxy inside the network: give `address` to the client container, fault `proxy`."""

    proxy: Proxy
    address: str
    upstream: str


class ServiceNetwork:
    """One Docker network and the services started on it; use as a context manager or `close()`."""

    def __init__(self, *, images: Mapping[str, str] | None = None) -> None:
        self.images = dict(images or {})  # service name -> image; a service not in it runs its default
        self._exit_stack = contextlib.ExitStack()
        self.name = self._exit_stack.enter_context(private_network())
        try:
            self.gateway = _gateway(self.name)
        except BaseException:
            self._exit_stack.close()
            raise
        self.services: dict[str, NetworkService] = {}
        self._toxiproxy: ToxiproxyContainerBackend | None = None
        self._toxiproxy_server: ToxiproxyServer | None = None
        self._proxies: list[NetworkProxy] = []
        self._proxy_numbers = itertools.count(1)
        self.toxiproxy_startup_duration: float | None = None  # seconds, once started

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(
        self,
        image: str,
        alias: str,
        *,
        ports: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        volumes: Mapping[str, str] | None = None,
        ready: ReadinessProbe | None = None,
        ready_timeout: float = 60.0,
    ) -> NetworkService:
        """Start `image` as `alias` on this network; returns once `ready` passes (see ContainerSpec)."""
        spec = ContainerSpec(
            image,
            dict(ports or {}),
            env=dict(env or {}),
            command=command,
            ready=ready,
            ready_timeout=ready_timeout,
            volumes=dict(volumes or {}),
        )
        service, _ = self._start(spec, alias)
        return service

    def run_broker(self, kind: BrokerKind, alias: str | None = None, image: str | None = None) -> NetworkService:
        """Start a broker as the broker fixtures' container backend does (image, ports, readiness).

        Its main port is named "main" (RabbitMQ's STOMP "stomp", NATS's monitoring "monitor");
        `alias` defaults to the kind, `image` to ``images[kind]``, then the kind's default.
        """
        from pytest_ipc.brokers.kinds import KINDS

        if kind not in KINDS:
            raise IpcUsageError(f"unknown broker kind {kind!r}; choose one of: {', '.join(KINDS)}")
        recipe = KINDS[kind].container(image or self.images.get(kind) or PUBLIC_IMAGES[kind])
        service, endpoint = self._start(recipe.spec, alias or kind)
        service = dataclasses.replace(service, broker=recipe.endpoint(endpoint))
        self.services[service.alias] = service
        return service

    def run_stub(self, alias: str = "wiremock", image: str | None = None) -> NetworkService:
        """Start WireMock as `alias` (port "http"), as the stub's container backend does; its `stub`
        is an `HttpStub` it serves, reset now and removed with the network.

        `image` defaults to ``images["stub"]``, then the pinned public WireMock image.
        """
        spec = wiremock_spec(image or self.images.get("stub") or WIREMOCK_IMAGE)
        service, endpoint = self._start(spec, alias)
        stub = HttpStub.on_wiremock(wiremock_url(endpoint)).start()
        stub.backend = "container"
        self._exit_stack.callback(stub.stop)
        service = dataclasses.replace(service, stub=stub)
        self.services[service.alias] = service
        return service

    def _start(self, spec: ContainerSpec, alias: str) -> tuple[NetworkService, ContainerEndpoint]:
        if not ALIAS_PATTERN.match(alias):
            raise IpcUsageError(f"alias {alias!r} is not a DNS label: use a-z, 0-9 and inner '-', up to 63 characters")
        if alias in self.services or alias == TOXIPROXY_ALIAS:
            taken = ", ".join([TOXIPROXY_ALIAS, *self.services])
            raise IpcUsageError(f"alias {alias!r} is already taken on network {self.name} (taken: {taken})")
        backend = ContainerBackend(dataclasses.replace(spec, network=self.name, network_aliases=[alias]))
        if (reason := backend.unavailable_reason()) is not None:
            raise ContainerStartError(f"cannot start {alias}: {reason}")
        started = time.monotonic()
        endpoint = backend.start()
        service = NetworkService(alias, spec.ports, endpoint, backend, time.monotonic() - started)
        self.services[alias] = service
        return service, endpoint

    @property
    def toxiproxy(self) -> ToxiproxyServer:
        """The network's Toxiproxy (alias ``toxiproxy``), started on first use, API on host loopback."""
        if self._toxiproxy_server is None:
            image = self.images.get("toxiproxy") or TOXIPROXY_IMAGE
            backend = ToxiproxyContainerBackend(image, network=self.name, alias=TOXIPROXY_ALIAS)
            if (reason := backend.unavailable_reason()) is not None:
                raise ContainerStartError(f"cannot start the network's Toxiproxy: {reason}")
            self._toxiproxy = backend
            started = time.monotonic()
            self._toxiproxy_server = backend.start()
            self.toxiproxy_startup_duration = time.monotonic() - started
        return self._toxiproxy_server

    def proxy(self, upstream: str, name: str | None = None) -> NetworkProxy:
        """A proxy in front of `upstream` ("alias:port", or a gateway address); listens on a free port."""
        proxy_name = name or f"{upstream.replace(':', '-')}-{next(self._proxy_numbers)}"
        proxy = self.toxiproxy.client.create_proxy(proxy_name, upstream, listen="0.0.0.0:0")
        network_proxy = NetworkProxy(proxy, f"{TOXIPROXY_ALIAS}:{proxy.port}", upstream)
        self._proxies.append(network_proxy)
        return network_proxy

    def heal(self) -> None:
        """Remove every toxic and enable every proxy: what a test leaves behind for the next one."""
        for network_proxy in self._proxies:
            network_proxy.proxy.remove_all_toxics()
            network_proxy.proxy.enable()

    def close(self) -> None:
        """Remove every container, then the network. Idempotent."""
        with self._exit_stack:  # the network goes last, even when a container removal fails
            if self._toxiproxy is not None:
                self._exit_stack.callback(self._toxiproxy.stop)
            for service in self.services.values():
                self._exit_stack.callback(service.backend.stop)
        self._toxiproxy = self._toxiproxy_server = None
        self.services.clear()
        self._proxies.clear()


def _gateway(network: str) -> str:
    import docker

    client = docker.from_env(timeout=docker_engine.PING_TIMEOUT)  # type: ignore[arg-type]  # requests takes a float; the stubs say int
    try:
        return str(client.networks.get(network).attrs["IPAM"]["Config"][0]["Gateway"])
    finally:
        client.close()


__all__ = ["NetworkProxy", "NetworkService", "ServiceNetwork"]
