"""AMQP 0-9-1 adapter over aio-pika: the async form of `messaging.amqp` (same queues, exchanges,
dead-lettering and publisher confirms).

One robust connection per bus: it reconnects by itself after a broker restart and restores the
channels, queues and consumers it knew. Publishing waits for the broker's confirm; a publish that
meets a connection being restored waits for it (`RECONNECT_TIMEOUT`) and tries once more. Each
subscription consumes on a channel of its own, so stopping it (closing that channel) hands its
unacknowledged messages back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aio_pika
import aio_pika.abc
import aiormq.exceptions

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.messaging.aio.channel import Bus, Delivery, Handler, Subscription
from pytest_ipc.messaging.amqp import FEATURES, PREFETCH, RECONNECT_INTERVAL, queue_arguments, subscription_queue
from pytest_ipc.messaging.channel import Destination
from pytest_ipc.messaging.message import Message, Settlement

RECONNECT_TIMEOUT = 60.0
"""Seconds a publish waits for a robust connection to come back (a RabbitMQ boot takes seconds)."""
CONNECTION_LOST = (aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError)


def amqp_message(message: Message) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        headers=dict(message.headers) or None,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def message_from_amqp(incoming: aio_pika.abc.AbstractIncomingMessage) -> Message:
    return Message(
        body=incoming.body,
        headers={str(k): str(v) for k, v in (incoming.headers or {}).items()},
        correlation_id=incoming.correlation_id,
        reply_to=incoming.reply_to,
        message_id=incoming.message_id or "",
    )


class AmqpBus(Bus):
    transport = "amqp"
    features = FEATURES

    def __init__(self, connection: aio_pika.abc.AbstractRobustConnection, channel: aio_pika.abc.AbstractChannel,
                 qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.connection = connection
        self.channel = channel
        self._queues: set[str] = set()
        self._exchanges: set[str] = set()

    @classmethod
    async def connect(cls, endpoint: BrokerEndpoint, vhost: str, qualify: Callable[[str], str]) -> AmqpBus:
        connection = await aio_pika.connect_robust(
            host=endpoint.host,
            port=endpoint.port,
            login=endpoint.username or "guest",
            password=endpoint.password or "guest",
            virtualhost=vhost,
            reconnect_interval=RECONNECT_INTERVAL,
        )
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        return cls(connection, channel, qualify)

    async def _declare(self, destination: Destination) -> None:
        if destination.pattern == "topic":
            await self.channel.declare_exchange(destination.address, aio_pika.ExchangeType.FANOUT, durable=True)
            self._exchanges.add(destination.address)
            return
        if destination.dead_letter_address is not None:
            await self.declare_queue(destination.dead_letter_address)
        await self.declare_queue(destination.address, queue_arguments(destination))

    async def declare_queue(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        await self.channel.declare_queue(name, durable=True, arguments=arguments)
        self._queues.add(name)

    async def publish(self, destination: Destination, message: Message) -> None:
        """Returns once the broker confirmed it; an unroutable queue message raises
        `aio_pika.exceptions.PublishError`."""
        try:
            await self._publish(destination, message)
        except CONNECTION_LOST:
            await asyncio.wait_for(self.channel.ready(), RECONNECT_TIMEOUT)  # type: ignore[attr-defined]  # a robust connection's channel
            await self._publish(destination, message)

    async def _publish(self, destination: Destination, message: Message) -> None:
        if destination.pattern == "queue":
            await self.channel.default_exchange.publish(amqp_message(message), destination.address, mandatory=True)
        else:
            exchange = await self.channel.get_exchange(destination.address, ensure=False)
            await exchange.publish(amqp_message(message), "", mandatory=False)

    async def delete_queue(self, name: str) -> None:
        await self.channel.queue_delete(name)
        self._queues.discard(name)

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return AmqpSubscription(self, destination, handler)

    async def _disconnect(self) -> None:
        try:
            for queue in list(self._queues):
                await self.delete_queue(queue)
            for exchange in self._exchanges:
                await self.channel.exchange_delete(exchange)
        finally:
            await self.connection.close()


class AmqpSubscription(Subscription):
    """A consumer on its own channel of the bus's robust connection (restored after a restart)."""

    bus: AmqpBus

    def __init__(self, bus: AmqpBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self.queue = subscription_queue(destination)
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._consumer: tuple[aio_pika.abc.AbstractQueue, str] | None = None

    async def _open(self) -> None:
        channel = await self.bus.connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue: aio_pika.abc.AbstractQueue
        if self.destination.pattern == "topic":
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(self.destination.address)
        else:
            queue = await channel.get_queue(self.queue)  # declared (passively), so it is restored after a restart
        self._channel = channel
        self._consumer = (queue, await queue.consume(self._on_message))

    async def _on_message(self, incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
        """aio-pika calls this in a task per message; those still waiting for their turn when the
        subscription stops are not handled: the broker took their messages back with the channel."""

        async def settle(settlement: Settlement) -> None:
            if settlement == "ack":
                await incoming.ack()
            else:
                await incoming.nack(requeue=settlement == "requeue")

        await self.deliver(Delivery(message_from_amqp(incoming), incoming.redelivered or False, settle))

    def _accepting(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def _close(self) -> None:
        """No more deliveries, then close the channel between two handlers (so no ack crosses the
        close); what it still held goes back to the queue."""
        channel, self._channel = self._channel, None
        if channel is None or channel.is_closed:
            return
        if self._consumer is not None:
            queue, tag = self._consumer
            with contextlib.suppress(*CONNECTION_LOST):
                await queue.cancel(tag)
        async with self._one_at_a_time:
            await channel.close()

    async def close(self) -> None:
        await super().close()
        if self.destination.pattern == "topic":
            await self.bus.delete_queue(self.queue)
