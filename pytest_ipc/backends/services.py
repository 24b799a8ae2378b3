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
from pytest_ipc.brokers.kinds import KINDS

from . import stub_container, toxiproxy_container

if TYPE_CHECKING:
    from pytest_ipc.brokers.server import BrokerRuntime
    from pytest_ipc.client.client import ToxiproxyServer
    from pytest_ipc.stub.server import HttpStub

T = TypeVar("T")


@dataclass(frozen=True)
class Wanted:
    """What the settings say about one service: its URL (and the setting it came from), its image, and
    where an embedded server listens."""

    url: str | None
    where: str
    image: str
    listen: tuple[str, int] = (LOOPBACK, 0)


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
    from .toxiproxy_external import ExternalToxiproxyBackend

    return ExternalToxiproxyBackend(wanted.url, wanted.where)


def _embedded_toxiproxy(wanted: Wanted) -> Backend[ToxiproxyServer]:
    from .toxiproxy_embedded import EmbeddedToxiproxyBackend

    return EmbeddedToxiproxyBackend(wanted.listen[0])


def _container_toxiproxy(wanted: Wanted) -> Backend[ToxiproxyServer]:
    return toxiproxy_container.ToxiproxyContainerBackend(wanted.image)


def _external_stub(wanted: Wanted) -> Backend[HttpStub]:
    from .stub_external import ExternalWireMockBackend

    return ExternalWireMockBackend(wanted.url, wanted.where)


def _embedded_stub(wanted: Wanted) -> Backend[HttpStub]:
    from .stub_embedded import EmbeddedStubBackend

    return EmbeddedStubBackend(*wanted.listen)


def _container_stub(wanted: Wanted) -> Backend[HttpStub]:
    return stub_container.WireMockContainerBackend(wanted.image)


TOXIPROXY: Service[ToxiproxyServer] = Service(
    "toxiproxy",
    "fault proxy (Toxiproxy)",
    toxiproxy_container.DEFAULT_IMAGE,
    "http://HOST:PORT",
    {"external": _external_toxiproxy, "embedded": _embedded_toxiproxy, "container": _container_toxiproxy},
    _http_url,
)
STUB: Service[HttpStub] = Service(
    "stub",
    "HTTP stub",
    stub_container.DEFAULT_IMAGE,
    "a WireMock 3 base URL, http://HOST:PORT",
    {"external": _external_stub, "embedded": _embedded_stub, "container": _container_stub},
    _http_url,
)


def _broker(kind: BrokerKind) -> Service[BrokerRuntime]:
    from .broker_container import ContainerBroker
    from .broker_external import ExternalBroker

    parts = KINDS[kind]

    def check_url(url: str) -> None:
        parse_broker_url(kind, url)

    return Service(
        kind,
        f"{kind} broker",
        parts.default_image,
        f"{SCHEMES[kind][0]}://HOST:PORT",
        {
            "external": lambda wanted: ExternalBroker(kind, wanted.url, parts.external_isolation, wanted.where),
            "local": lambda wanted: parts.local(),
            "container": lambda wanted: ContainerBroker(kind, parts.container(wanted.image), parts.external_isolation),
        },
        check_url,
        "install the broker's binary",
    )


BROKERS: dict[BrokerKind, Service[BrokerRuntime]] = {kind: _broker(kind) for kind in BROKER_KINDS}
SERVICES: dict[str, Service[Any]] = {TOXIPROXY.name: TOXIPROXY, STUB.name: STUB}
SERVICES.update(BROKERS.items())


__all__ = ["BROKERS", "SERVICES", "STUB", "TOXIPROXY", "Service", "Wanted"]
