"""What a messaging helper needs to reach a broker, independent of how the broker was started."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pytest_ipc._errors import IpcUsageError

if TYPE_CHECKING:
    from pytest_ipc.brokers.tls import ClientTls

BrokerKind = Literal["rabbitmq", "redis", "nats", "mqtt"]
BROKER_KINDS: tuple[BrokerKind, ...] = ("rabbitmq", "redis", "nats", "mqtt")

#: The URL schemes of each kind; the first is the one `BrokerEndpoint.url` writes.
SCHEMES: dict[BrokerKind, tuple[str, ...]] = {
    "rabbitmq": ("amqp",),
    "redis": ("redis",),
    "nats": ("nats",),
    "mqtt": ("mqtt", "tcp"),
}
#: The URL scheme of each kind's TLS listener (an endpoint with ``tls=True``).
TLS_SCHEMES: dict[BrokerKind, str] = {"rabbitmq": "amqps", "redis": "rediss", "nats": "tls", "mqtt": "mqtts"}
#: Other spellings of a TLS URL's scheme that `parse_broker_url` accepts.
TLS_ALIASES: dict[BrokerKind, tuple[str, ...]] = {"rabbitmq": (), "redis": (), "nats": ("nats+tls",), "mqtt": ("ssl",)}
#: The port of a TLS URL that names none (the IANA ports; Redis and NATS have none of their own).
DEFAULT_TLS_PORTS: dict[BrokerKind, int] = {"rabbitmq": 5671, "redis": 6379, "nats": 4222, "mqtt": 8883}
DEFAULT_PORTS: dict[BrokerKind, int] = {
    "rabbitmq": 5672,
    "redis": 6379,
    "nats": 4222,
    "mqtt": 1883,
}


@dataclass(frozen=True)
class BrokerEndpoint:
    """A broker's address and credentials. `port` is the main protocol's port (AMQP for RabbitMQ);
    other listeners (RabbitMQ's "stomp", NATS's "monitor") are in `extra_ports`."""

    kind: BrokerKind
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    extra_ports: dict[str, int] = field(default_factory=dict)
    tls: bool = False
    """`port` speaks TLS: `url` has the kind's TLS scheme (amqps, rediss, tls, mqtts)."""
    client_tls: ClientTls | None = field(default=None, repr=False)
    """How to speak TLS to `port` when it is not ours (an external broker's TLS URL): trust, client certificate."""

    @property
    def url(self) -> str:
        """The main protocol's client URL, with the credentials."""
        credentials = ""
        if self.username is not None:
            credentials = quote(self.username, safe="")
            if self.password is not None:
                credentials += ":" + quote(self.password, safe="")
            credentials += "@"
        scheme = TLS_SCHEMES[self.kind] if self.tls else SCHEMES[self.kind][0]
        return f"{scheme}://{credentials}{self.host}:{self.port}"


def parse_broker_url(kind: BrokerKind, url: str) -> tuple[BrokerEndpoint, str]:
    """The endpoint a URL names, and its path without the leading slash (AMQP vhost, Redis db). A TLS
    scheme (`TLS_SCHEMES`: amqps, rediss, tls, mqtts) makes an endpoint with ``tls=True``.

    Extra listeners go in the query string, named as in `BrokerEndpoint.extra_ports`, e.g.
    ``amqp://guest:guest@127.0.0.1:5672/?stomp=61613&management=15672``. Raises `IpcUsageError`
    naming the problem and the expected form.
    """
    parts = urlsplit(url)
    expected = f"{SCHEMES[kind][0]}://[USER[:PASSWORD]@]HOST[:PORT][/PATH][?LISTENER=PORT] (over TLS: {TLS_SCHEMES[kind]}://...)"
    tls = parts.scheme in (TLS_SCHEMES[kind], *TLS_ALIASES[kind])
    if (parts.scheme not in SCHEMES[kind] and not tls) or not parts.hostname:
        raise IpcUsageError(f"{url!r} is not a {kind} URL; expected {expected}")
    try:
        port = parts.port or (DEFAULT_TLS_PORTS if tls else DEFAULT_PORTS)[kind]
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
        tls,
    )
    return endpoint, unquote(parts.path[1:])


class BrokerHandle(Protocol):
    """One test's isolated view of a session broker.

    `namespace` names what isolates the test: the Redis key prefix, the NATS subject prefix or the
    MQTT topic root; `name("orders")` qualifies a queue/key/subject/topic with it. On RabbitMQ it is
    the test's vhost (``.vhost``) that isolates, and `endpoint` carries the test's own login.
    """

    @property
    def kind(self) -> BrokerKind:
        """Which broker this is."""

    @property
    def endpoint(self) -> BrokerEndpoint:
        """Where the test's clients connect, with the test's login."""

    @property
    def namespace(self) -> str:
        """What keeps this test apart from the others on the broker."""

    def name(self, local_name: str) -> str:
        """`local_name` qualified with the test's namespace."""
