"""What a messaging helper needs to reach a broker, independent of how the broker was started."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import quote

BrokerKind = Literal["rabbitmq", "redis", "nats", "mqtt"]
BROKER_KINDS: tuple[BrokerKind, ...] = ("rabbitmq", "redis", "nats", "mqtt")

_SCHEMES: dict[BrokerKind, str] = {
    "rabbitmq": "amqp",
    "redis": "redis",
    "nats": "nats",
    "mqtt": "mqtt",
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

    @property
    def url(self) -> str:
        """The main protocol's client URL, with the credentials."""
        credentials = ""
        if self.username is not None:
            credentials = quote(self.username, safe="")
            if self.password is not None:
                credentials += ":" + quote(self.password, safe="")
            credentials += "@"
        return f"{_SCHEMES[self.kind]}://{credentials}{self.host}:{self.port}"


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
