"""`aio.channels_for(handle)`: the async bus for a broker handle, over the asyncio client libraries."""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import Any

from pytest_ipc.brokers.endpoint import BrokerHandle
from pytest_ipc.messaging.aio.channel import Bus
from pytest_ipc.messaging.channel import UnsupportedFeature
from pytest_ipc.messaging.factory import Transport, choose_transport, vhost_of


async def open_bus(handle: BrokerHandle, transport: Transport | None = None) -> Bus:
    """The connected async bus for `handle` (what `channels_for` awaits)."""
    transport = choose_transport(handle, transport)
    endpoint = handle.endpoint
    # Client libraries come with the "brokers" extra: import only the one this transport needs.
    if transport == "amqp":
        from pytest_ipc.messaging.aio.amqp import AmqpBus

        return await AmqpBus.connect(endpoint, vhost_of(handle), handle.name)
    if transport == "stomp":
        raise UnsupportedFeature(
            "stomp", "async", "no well-kept asyncio STOMP client exists (the sync channels_for speaks STOMP)"
        )
    if transport == "redis":
        from pytest_ipc.messaging.aio.redis import RedisBus

        return await RedisBus.connect(endpoint, handle.name)
    if transport == "nats":
        from pytest_ipc.messaging.aio.nats import NatsBus

        return await NatsBus.connect(endpoint, handle.name)
    if transport == "jetstream":
        from pytest_ipc.messaging.aio.jetstream import JetStreamBus

        return await JetStreamBus.connect(endpoint, handle.name)
    from pytest_ipc.messaging.aio.mqtt import MqttBus

    return await MqttBus.connect(endpoint, handle.name)


class OpeningBus:
    """What `channels_for` returns: await it for the bus, or `async with` it to close the bus after."""

    def __init__(self, handle: BrokerHandle, transport: Transport | None) -> None:
        self._handle = handle
        self._transport = transport
        self._bus: Bus | None = None

    def __await__(self) -> Generator[Any, None, Bus]:
        return open_bus(self._handle, self._transport).__await__()

    async def __aenter__(self) -> Bus:
        self._bus = await open_bus(self._handle, self._transport)
        return self._bus

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._bus is not None:
            await self._bus.close()


def channels_for(handle: BrokerHandle, transport: Transport | None = None) -> OpeningBus:
    """Open an async bus to `handle`'s broker (`async with aio.channels_for(broker) as bus:`, or
    `bus = await aio.channels_for(broker)` and `await bus.close()`); transports as in the sync
    `channels_for`, except STOMP, which has no well-kept asyncio client."""
    return OpeningBus(handle, transport)
