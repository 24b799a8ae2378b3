"""`channels_for(handle)`: the right adapter for a broker handle, isolated in the handle's namespace."""

from __future__ import annotations

from typing import Literal

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.endpoint import BrokerHandle
from pytest_ipc.messaging.channel import Bus

Transport = Literal["amqp", "stomp", "redis", "nats", "jetstream", "mqtt"]
TRANSPORTS: dict[str, tuple[Transport, ...]] = {
    "rabbitmq": ("amqp", "stomp"),
    "redis": ("redis",),
    "nats": ("nats", "jetstream"),
    "mqtt": ("mqtt",),
}


def choose_transport(handle: BrokerHandle, transport: Transport | None) -> Transport:
    """`transport`, or the broker kind's default, checked against what the broker speaks."""
    choices = TRANSPORTS.get(handle.kind)
    if choices is None:
        raise IpcUsageError(f"unknown broker kind {handle.kind!r}; expected one of: {', '.join(TRANSPORTS)}")
    transport = transport or choices[0]
    if transport not in choices:
        raise IpcUsageError(f"{handle.kind} does not speak {transport!r}; choose one of: {', '.join(choices)}")
    return transport


def vhost_of(handle: BrokerHandle) -> str:
    """A handle may keep tests apart by name prefixes inside a shared vhost; it says so in `vhost`."""
    return getattr(handle, "vhost", None) or handle.namespace


def channels_for(handle: BrokerHandle, transport: Transport | None = None) -> Bus:
    """Open a bus to `handle`'s broker; RabbitMQ speaks AMQP unless `transport="stomp"`, NATS core
    NATS unless `transport="jetstream"`. (`messaging.aio.channels_for` opens the async form.)

    Close it (or use it as a context manager) to stop its consumers and remove what it declared.
    """
    transport = choose_transport(handle, transport)
    endpoint = handle.endpoint
    # Client libraries come with the "brokers" extra: import only the one this transport needs.
    if transport in ("amqp", "stomp"):
        vhost = vhost_of(handle)
        if transport == "amqp":
            from pytest_ipc.messaging.amqp import AmqpBus

            return AmqpBus(endpoint, vhost, handle.name)
        from pytest_ipc.messaging.stomp import StompBus

        return StompBus(endpoint, vhost, handle.name)
    if transport == "redis":
        from pytest_ipc.messaging.redis import RedisBus

        return RedisBus(endpoint, handle.name)
    if transport == "nats":
        from pytest_ipc.messaging.nats import NatsBus

        return NatsBus(endpoint, handle.name)
    if transport == "jetstream":
        from pytest_ipc.messaging.jetstream import JetStreamBus

        return JetStreamBus(endpoint, handle.name)
    from pytest_ipc.messaging.mqtt import MqttBus

    return MqttBus(endpoint, handle.name)
