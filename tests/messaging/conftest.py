"""Buses for every transport.

`bus` is a bus on pytest-ipc's own session brokers (the `<kind>_broker` fixtures), one per transport
(RabbitMQ twice: AMQP and STOMP); tests narrow it with indirect parametrization. `system_bus` is the
"external" coverage: the brokers already running on this machine, kept apart by unique name prefixes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.messaging import Bus, channels_for
from pytest_ipc.messaging.factory import Transport

TRANSPORTS: tuple[Transport, ...] = ("amqp", "stomp", "redis", "nats", "jetstream", "mqtt")
BROKER_OF: dict[Transport, BrokerKind] = {
    "amqp": "rabbitmq", "stomp": "rabbitmq", "redis": "redis", "nats": "nats", "jetstream": "nats", "mqtt": "mqtt",
}
SYSTEM_ENDPOINTS: dict[BrokerKind, BrokerEndpoint] = {
    "rabbitmq": BrokerEndpoint("rabbitmq", "127.0.0.1", 5672, "guest", "guest"),
    "redis": BrokerEndpoint("redis", "127.0.0.1", 6379),
    "nats": BrokerEndpoint("nats", "127.0.0.1", 4222),
    "mqtt": BrokerEndpoint("mqtt", "127.0.0.1", 1883),
}


@dataclass(frozen=True)
class SystemBrokerHandle:
    """A `BrokerHandle` on a shared system broker: a unique name prefix stands in for a namespace."""

    kind: BrokerKind
    endpoint: BrokerEndpoint
    namespace: str
    vhost: str | None = None

    def name(self, local_name: str) -> str:
        return f"{self.namespace}{'/' if self.kind == 'mqtt' else '.'}{local_name}"


def new_system_handle(kind: BrokerKind) -> SystemBrokerHandle:
    vhost = "/" if kind == "rabbitmq" else None
    return SystemBrokerHandle(kind, SYSTEM_ENDPOINTS[kind], f"pytest-ipc-{uuid.uuid4().hex[:10]}", vhost)


@pytest.fixture
def system_handle() -> Callable[[BrokerKind], SystemBrokerHandle]:
    """Makes handles on the system brokers, each with its own name prefix."""
    return new_system_handle


@pytest.fixture(params=TRANSPORTS)
def bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    transport: Transport = request.param
    handle = request.getfixturevalue(f"{BROKER_OF[transport]}_broker")
    with channels_for(handle, transport) as opened:
        yield opened


@pytest.fixture(params=[t for t in TRANSPORTS if t != "stomp"])
def system_bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    """A bus on this machine's system broker (its RabbitMQ has no STOMP listener)."""
    transport: Transport = request.param
    with channels_for(new_system_handle(BROKER_OF[transport]), transport) as opened:
        yield opened
