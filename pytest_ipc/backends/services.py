"""Every service pytest-ipc provides, and the backends each can come from: registered here only.

A `Service` names its settings' area (``--ipc-<name>-backend``, ``-url``, ``-image``), its default
image, how a URL of it looks, and one factory per strategy module of this package. Fixtures ask for
a service by name and get its backends in `AUTO_ORDER` (`pytest_ipc.fixtures.backends`); adding a
backend is one module and one line below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends import AUTO_ORDER, Backend
from pytest_ipc.brokers.endpoint import BROKER_KINDS, SCHEMES, BrokerKind, parse_broker_url

if TYPE_CHECKING:
    from pytest_ipc.brokers.server import BrokerRuntime
    from pytest_ipc.brokers.tls import ClientTls, ListenerTls
    from pytest_ipc.client.client import ToxiproxyServer
    from pytest_ipc.stub.server import HttpStub

T = TypeVar("T")

# The pinned public image of each service: its container backend's default, named here only. The
# strategies are imported when a backend is made, so that declaring the settings (every session)
# loads none of them.
PUBLIC_IMAGES: dict[str, str] = {
    "toxiproxy": "ghcr.io/shopify/toxiproxy:2.12.0",
    "stub": "wiremock/wiremock:3.13.2",
    "rabbitmq": "rabbitmq:3.13-management",
    "redis": "redis:7",
    "nats": "nats:2.10",
    "mqtt": "eclipse-mosquitto:2",
}


@dataclass(frozen=True)
class Wanted:
    """What the settings say about one service: its URL (and the setting it came from), its image,
    where an embedded server listens, and the TLS listener a broker adds (None: none)."""

    url: str | None
    where: str
    image: str
    listen: tuple[str, int] = (LOOPBACK, 0)
    tls: ListenerTls | None = None
    client_tls: ClientTls | None = None  # how to speak TLS to an external broker's TLS URL
    client_tls_where: str = ""  # the settings that gave it, for messages


@dataclass(frozen=True)
class Service(Generic[T]):
    """One service: `strategies` maps each backend it has to a factory of that backend."""

    name: str  # the settings' area, and the name in messages
    title: str  # what a user calls it: "the fault proxy (Toxiproxy)"
    default_image: str
    url_form: str  # what its URL looks like, for messages
    strategies: Mapping[str, Callable[[Wanted], Backend[T]]]
    check_url: Callable[[str], None]  # raises IpcUsageError for a URL this service cannot use
    install_hint: str | None = None  # how to get the local backend's binary

    def __post_init__(self) -> None:
        unknown = set(self.strategies) - set(AUTO_ORDER)
        assert not unknown, f"{self.name}: strategies {unknown} are not in AUTO_ORDER"

    @property
    def backend_names(self) -> tuple[str, ...]:
        """The backends it has, in `AUTO_ORDER`."""
        return tuple(name for name in AUTO_ORDER if name in self.strategies)

    def backends(self, wanted: Wanted) -> list[Backend[T]]:
        return [self.strategies[name](wanted) for name in self.backend_names]

    def hint(self) -> str:
        """How to make a backend available, for skip messages."""
        ways = []
        if "external" in self.strategies:
            ways.append(f"give one with --ipc-{self.name}-url ({self.url_form})")
        if "local" in self.strategies and self.install_hint:
            ways.append(self.install_hint)
        if "container" in self.strategies:
            ways.append(f"`docker pull` its image on a Docker engine (another image: --ipc-{self.name}-image)")
        return ", or ".join(ways)


def _http_url(url: str) -> None:
    import httpx

    from pytest_ipc._errors import IpcUsageError

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise IpcUsageError(f"{url!r} is not a usable URL ({error}); expected http://HOST:PORT") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise IpcUsageError(f"{url!r} is not a usable URL; expected http://HOST:PORT")


def _external_toxiproxy(wanted: Wanted) -> Backend[ToxiproxyServer]:
    from pytest_ipc.backends.toxiproxy_external import ExternalToxiproxyBackend

    return ExternalToxiproxyBackend(wanted.url, wanted.where)


def _embedded_toxiproxy(wanted: Wanted) -> Backend[ToxiproxyServer]:
    from pytest_ipc.backends.toxiproxy_embedded import EmbeddedToxiproxyBackend

    return EmbeddedToxiproxyBackend(wanted.listen[0])


def _container_toxiproxy(wanted: Wanted) -> Backend[ToxiproxyServer]:
    from pytest_ipc.backends.toxiproxy_container import ToxiproxyContainerBackend

    return ToxiproxyContainerBackend(wanted.image)


def _external_stub(wanted: Wanted) -> Backend[HttpStub]:
    from pytest_ipc.backends.stub_external import ExternalWireMockBackend

    return ExternalWireMockBackend(wanted.url, wanted.where)


def _embedded_stub(wanted: Wanted) -> Backend[HttpStub]:
    from pytest_ipc.backends.stub_embedded import EmbeddedStubBackend

    return EmbeddedStubBackend(*wanted.listen)


def _container_stub(wanted: Wanted) -> Backend[HttpStub]:
    from pytest_ipc.backends.stub_container import WireMockContainerBackend

    return WireMockContainerBackend(wanted.image)


TOXIPROXY: Service[ToxiproxyServer] = Service(
    "toxiproxy",
    "fault proxy (Toxiproxy)",
    PUBLIC_IMAGES["toxiproxy"],
    "http://HOST:PORT",
    {"external": _external_toxiproxy, "embedded": _embedded_toxiproxy, "container": _container_toxiproxy},
    _http_url,
)
STUB: Service[HttpStub] = Service(
    "stub",
    "HTTP stub",
    PUBLIC_IMAGES["stub"],
    "a WireMock 3 base URL, http://HOST:PORT",
    {"external": _external_stub, "embedded": _embedded_stub, "container": _container_stub},
    _http_url,
)


def _broker(kind: BrokerKind) -> Service[BrokerRuntime]:
    def check_url(url: str) -> None:
        parse_broker_url(kind, url)

    def external(wanted: Wanted) -> Backend[BrokerRuntime]:
        from pytest_ipc.backends.broker_external import ExternalBroker
        from pytest_ipc.brokers.kinds import KINDS

        spec = KINDS[kind]
        return ExternalBroker(
            kind,
            wanted.url,
            spec.external_isolation,
            wanted.where,
            users=spec.external_users,
            tls=wanted.tls,
            client_tls=wanted.client_tls,
            client_tls_where=wanted.client_tls_where,
        )

    def local(wanted: Wanted) -> Backend[BrokerRuntime]:
        from pytest_ipc.brokers.kinds import KINDS

        return KINDS[kind].local(wanted.tls)

    def container(wanted: Wanted) -> Backend[BrokerRuntime]:
        from pytest_ipc.backends.broker_container import ContainerBroker
        from pytest_ipc.brokers.kinds import KINDS

        spec = KINDS[kind]
        recipe = spec.container(wanted.image) if wanted.tls is None else spec.container_tls(wanted.image, wanted.tls)
        return ContainerBroker(
            kind, recipe, spec.external_isolation, users=spec.external_users, tls=wanted.tls, container_users=spec.container_users
        )

    return Service(
        kind,
        f"{kind} broker",
        PUBLIC_IMAGES[kind],
        f"{SCHEMES[kind][0]}://HOST:PORT",
        {"external": external, "local": local, "container": container},
        check_url,
        "install the broker's binary",
    )


BROKERS: dict[BrokerKind, Service[BrokerRuntime]] = {kind: _broker(kind) for kind in BROKER_KINDS}
SERVICES: dict[str, Service[Any]] = {TOXIPROXY.name: TOXIPROXY, STUB.name: STUB}
SERVICES.update(BROKERS.items())


__all__ = ["BROKERS", "PUBLIC_IMAGES", "SERVICES", "STUB", "TOXIPROXY", "Service", "Wanted"]
