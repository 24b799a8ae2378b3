"""AMQP 0-9-1 adapter (pika) for RabbitMQ: durable queues, fanout exchanges, publisher confirms, DLX.

pika's BlockingConnection is not thread-safe, so the bus publishes on one connection behind a lock
and every subscription consumes on its own connection and thread; settling from any other thread
goes through `add_callback_threadsafe`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.messaging.channel import Bus, Destination, Feature, Subscription
from pytest_ipc.messaging.message import Delivery, Handler, Message, Settlement, new_id

CONNECTION_LOST = (pika.exceptions.AMQPConnectionError, pika.exceptions.ChannelWrongStateError,
                   pika.exceptions.StreamLostError, pika.exceptions.ConnectionWrongStateError)
PREFETCH = 100
"""Unacked messages a consumer may hold: enough for a reordering window to fill up."""
RECONNECT_INTERVAL = 0.1


FEATURES: frozenset[Feature] = frozenset({"nack", "dead_letter", "buffering", "topic_buffering", "confirms"})


def queue_arguments(destination: Destination) -> dict[str, Any]:
    """The arguments a queue is declared with: where its rejected messages go."""
    if destination.dead_letter_address is None:
        return {}
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": destination.dead_letter_address}


def subscription_queue(destination: Destination) -> str:
    """The queue a subscription consumes: the queue itself, or a topic subscriber's own durable queue
    bound to the topic's fanout exchange (so it keeps buffering while stopped)."""
    if destination.pattern == "queue":
        return destination.address
    return f"{destination.address}.sub.{new_id()[:8]}"


class AmqpBus(Bus):
    transport = "amqp"
    features = FEATURES

    def __init__(self, endpoint: BrokerEndpoint, vhost: str, qualify: Callable[[str], str], *, confirms: bool = True) -> None:
        super().__init__(qualify)
        self.parameters = pika.ConnectionParameters(
            host=endpoint.host,
            port=endpoint.port,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(endpoint.username or "guest", endpoint.password or "guest"),
            heartbeat=0,  # a test's connection may sit idle while the test thinks; never time it out
            connection_attempts=1,
        )
        self.confirms = confirms
        self._publish_lock = threading.Lock()
        self._queues: set[str] = set()
        self._exchanges: set[str] = set()
        self._channel = self._connect()

    def _connect(self) -> BlockingChannel:
        channel = pika.BlockingConnection(self.parameters).channel()
        if self.confirms:
            channel.confirm_delivery()
        return channel

    def _on_channel(self, action: Callable[[BlockingChannel], Any]) -> Any:
        """Run `action` on the publishing channel, reconnecting once if the broker dropped us (restart)."""
        with self._publish_lock:
            try:
                return action(self._channel)
            except CONNECTION_LOST:
                self._channel = self._connect()
                return action(self._channel)

    def _declare(self, destination: Destination) -> None:
        if destination.pattern == "topic":
            self._on_channel(lambda ch: ch.exchange_declare(destination.address, "fanout", durable=True))
            self._exchanges.add(destination.address)
            return
        if destination.dead_letter_address is not None:
            self.declare_queue(destination.dead_letter_address)
        self.declare_queue(destination.address, queue_arguments(destination))

    def declare_queue(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        self._on_channel(lambda ch: ch.queue_declare(name, durable=True, arguments=arguments))
        self._queues.add(name)

    def publish(self, destination: Destination, message: Message) -> None:
        """With confirms on (the default) this returns only after the broker took responsibility;
        an unroutable queue message raises `pika.exceptions.UnroutableError`."""
        exchange, routing_key = ("", destination.address) if destination.pattern == "queue" else (destination.address, "")
        properties = pika.BasicProperties(
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            headers=dict(message.headers) or None,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        self._on_channel(lambda ch: ch.basic_publish(
            exchange, routing_key, message.body, properties, mandatory=destination.pattern == "queue"))

    def delete_queue(self, name: str) -> None:
        self._on_channel(lambda ch: ch.queue_delete(name))
        self._queues.discard(name)

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return AmqpSubscription(self, destination, handler)

    def _disconnect(self) -> None:
        try:
            for queue in list(self._queues):
                self.delete_queue(queue)
            for exchange in self._exchanges:
                self._on_channel(partial(BlockingChannel.exchange_delete, exchange=exchange))
        finally:
            with self._publish_lock:
                if self._channel.connection.is_open:
                    self._channel.connection.close()


class AmqpSubscription(Subscription):
    """A consumer on its own connection and thread. A topic subscriber gets a named durable queue
    bound to the fanout exchange, so it keeps buffering while stopped; `close()` deletes it."""

    bus: AmqpBus

    def __init__(self, bus: AmqpBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self.queue = subscription_queue(destination)
        self._thread: threading.Thread | None = None
        self._channel: BlockingChannel | None = None
        self._failure: BaseException | None = None
        self._stopping = threading.Event()

    def _open(self) -> None:
        ready = threading.Event()
        self._failure = None
        self._stopping.clear()
        self._thread = threading.Thread(target=self._consume, args=(ready,), name=f"amqp-consumer {self.queue}", daemon=True)
        self._thread.start()
        ready.wait(30)
        if self._failure is not None:
            self._thread.join(5)
            raise self._failure

    def _consume(self, ready: threading.Event) -> None:
        """Consume until stopped; when the broker goes away (a restart test) reconnect and go on."""
        while not self._stopping.is_set():
            try:
                channel = self._connect()
            except (pika.exceptions.AMQPError, OSError) as error:
                if not ready.is_set():  # the first connection must work: report it to start()
                    self._failure = error
                    ready.set()
                    return
                self.errors.append(error)
                self._stopping.wait(RECONNECT_INTERVAL)
                continue
            self._channel = channel
            ready.set()
            try:
                if not self._stopping.is_set():  # stop() may have come while we reconnected
                    channel.start_consuming()
            except CONNECTION_LOST as error:
                self.errors.append(error)
            finally:
                if channel.connection.is_open:
                    channel.connection.close()

    def _connect(self) -> BlockingChannel:
        channel = pika.BlockingConnection(self.bus.parameters).channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        if self.destination.pattern == "topic":
            channel.queue_declare(self.queue, durable=True)
            channel.queue_bind(self.queue, exchange=self.destination.address)
        channel.basic_consume(self.queue, on_message_callback=self._on_message)
        return channel

    def _on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        message = Message(
            body=body,
            headers={str(k): str(v) for k, v in (properties.headers or {}).items()},
            correlation_id=properties.correlation_id,
            reply_to=properties.reply_to,
            message_id=properties.message_id or "",
        )
        self.deliver(Delivery(message, bool(method.redelivered), self._settler(channel, method.delivery_tag)))

    def _settler(self, channel: BlockingChannel, tag: int) -> Callable[[Settlement], None]:
        def settle_now(settlement: Settlement) -> None:
            if settlement == "ack":
                channel.basic_ack(tag)
            else:
                channel.basic_nack(tag, requeue=settlement == "requeue")

        def settle(settlement: Settlement) -> None:
            if threading.current_thread() is self._thread:
                settle_now(settlement)
            else:  # e.g. a reordering wrapper releasing a delivery from its timer thread
                channel.connection.add_callback_threadsafe(lambda: settle_now(settlement))

        return settle

    def _close(self) -> None:
        self._stopping.set()
        channel, thread = self._channel, self._thread
        if channel is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(*CONNECTION_LOST):
                channel.connection.add_callback_threadsafe(channel.stop_consuming)
        if thread is not None:
            thread.join(10)
        self._channel = self._thread = None

    def close(self) -> None:
        super().close()
        if self.destination.pattern == "topic":
            self.bus.delete_queue(self.queue)
