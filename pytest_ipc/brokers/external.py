"""The external backend for brokers: one the user already runs (a CI service container, a shared
server), given as a URL. It is not ours: nothing is started, stopped or killed here.

Extra listeners go in the query string, named as in `BrokerEndpoint.extra_ports`, e.g.
``amqp://guest:guest@127.0.0.1:5672/?stomp=61613&management=15672`` (with the management port,
tests get a vhost each; without it, prefixed names in the URL's vhost).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.errors import BrokerControlError, BrokerError
from pytest_ipc.brokers.handles import Isolation
from pytest_ipc.brokers.local import accepts_connections

SCHEMES: dict[BrokerKind, tuple[str, ...]] = {
    "rabbitmq": ("amqp",),
    "redis": ("redis",),
    "nats": ("nats",),
    "mqtt": ("mqtt", "tcp"),
}
DEFAULT_PORTS: dict[BrokerKind, int] = {
    "rabbitmq": 5672,
    "redis": 6379,
    "nats": 4222,
    "mqtt": 1883,
}

IsolationFactory = Callable[[BrokerEndpoint, str], Isolation]
"""Builds a kind's isolation for a broker we do not own, from its endpoint and its URL's path."""


def parse_broker_url(kind: BrokerKind, url: str) -> tuple[BrokerEndpoint, str]:
    """The endpoint a URL names, and its path without the leading slash (AMQP vhost, Redis db).

    Raises `IpcUsageError` naming the problem and the expected form.
    """
    parts = urlsplit(url)
    expected = f"{SCHEMES[kind][0]}://[USER[:PASSWORD]@]HOST[:PORT][/PATH][?LISTENER=PORT]"
    if parts.scheme not in SCHEMES[kind] or not parts.hostname:
        raise IpcUsageError(f"{url!r} is not a {kind} URL; expected {expected}")
    try:
        port = parts.port or DEFAULT_PORTS[kind]
        extra_ports = {name: int(value) for name, value in parse_qsl(parts.query)}
    except ValueError as error:
        raise IpcUsageError(f"{url!r}: {error}; expected {expected}") from None
    endpoint = BrokerEndpoint(
        kind,
        parts.hostname,
        port,
        unquote(parts.username) if parts.username is not None else None,
        unquote(parts.password) if parts.password is not None else None,
        extra_ports,
    )
    return endpoint, unquote(parts.path[1:])


class ExternalBroker:
    """Backend and runtime for a broker at a URL; crash controls raise `BrokerControlError`."""

    name = "external"

    def __init__(self, kind: BrokerKind, url: str | None, isolation: IsolationFactory, where: str) -> None:
        self.kind = kind
        self.url = url
        self._isolation = isolation
        self._where = where  # the option and variable that give the URL, for messages

    def unavailable_reason(self) -> str | None:
        return None if self.url else f"no URL given ({self._where})"

    def _parsed(self) -> tuple[BrokerEndpoint, str]:
        if not self.url:
            raise IpcUsageError(f"external {self.kind}: {self.unavailable_reason()}")
        return parse_broker_url(self.kind, self.url)

    @property
    def endpoint(self) -> BrokerEndpoint:
        return self._parsed()[0]

    def start(self) -> ExternalBroker:
        endpoint = self.endpoint
        if not accepts_connections(endpoint.host, endpoint.port):
            raise BrokerError(
                f"external {self.kind} at {endpoint.host}:{endpoint.port} (from {self._where}) "
                "does not accept connections; start it, or correct the URL"
            )
        return self

    def stop(self) -> None:
        return None

    def isolation(self) -> Isolation:
        return self._isolation(*self._parsed())

    def _not_ours(self) -> BrokerControlError:
        return BrokerControlError(
            f"the external {self.kind} at {self.endpoint.host}:{self.endpoint.port} is not ours to stop, "
            f"kill or restart; run crash tests with --ipc-{self.kind}-backend=local or container"
        )

    def stop_broker(self) -> None:
        raise self._not_ours()

    def kill_broker(self) -> None:
        raise self._not_ours()

    def start_broker(self) -> None:
        raise self._not_ours()
