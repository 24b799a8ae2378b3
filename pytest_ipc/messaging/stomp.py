"""STOMP 1.2 adapter (stomp.py) for RabbitMQ's STOMP plugin: `/queue/<name>` for point-to-point,
`/topic/<name>` for pub/sub.

Acknowledgement is client-individual, so NACK works (RabbitMQ requeues it unless `requeue: false`,
which dead-letters it). Queue arguments (the dead-letter routing) travel as headers on every SEND and
SUBSCRIBE, because RabbitMQ declares `/queue/` destinations on first use and refuses a redeclaration
with different arguments. SEND waits for its RECEIPT, which RabbitMQ sends once the message is
confirmed: STOMP's publisher confirm.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import stomp
import stomp.utils

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.messaging.channel import Bus, Destination, Subscription
from pytest_ipc.messaging.message import Delivery, Handler, Message, Settlement, new_id

TIMEOUT = 10.0
QUEUE_PREFIX = "/queue/"
MESSAGE_ID = "amqp-message-id"
# Headers RabbitMQ adds or that carry our own fields: not part of a received message's headers.
RESERVED = {"destination", "message-id", "subscription", "ack", "redelivered", "content-length",
            "content-type", "correlation-id", "reply-to", MESSAGE_ID, "persistent", "priority",
            "x-dead-letter-exchange", "x-dead-letter-routing-key", "receipt", "durable", "auto-delete"}


class _Receipts(stomp.ConnectionListener):  # type: ignore[misc]  # stomp.py is untyped: a subclass of Any
    """Lets a sender wait for the broker's RECEIPT (or ERROR) for a frame."""

    def __init__(self) -> None:
        self._waiting: dict[str, threading.Event] = {}
        self.errors: list[str] = []

    def expect(self) -> tuple[str, threading.Event]:
        receipt, arrived = new_id(), threading.Event()
        self._waiting[receipt] = arrived
        return receipt, arrived

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        arrived = self._waiting.pop(frame.headers.get("receipt-id", ""), None)
        if arrived is not None:
            arrived.set()

    def on_error(self, frame: stomp.utils.Frame) -> None:
        self.errors.append(f"{frame.headers.get('message', '')}: {frame.body!r}")
        for arrived in self._waiting.values():
            arrived.set()


def _connect(endpoint: BrokerEndpoint, vhost: str, listener: stomp.ConnectionListener) -> stomp.Connection12:
    port = endpoint.extra_ports.get("stomp")
    if port is None:
        raise IpcUsageError(f"RabbitMQ endpoint {endpoint.host}:{endpoint.port} has no 'stomp' port in extra_ports: "
                         "the STOMP plugin is not enabled on it")
    connection = stomp.Connection12([(endpoint.host, port)], vhost=vhost, auto_decode=False, heartbeats=(0, 0))
    connection.set_listener("pytest-ipc", listener)
    connection.connect(endpoint.username or "guest", endpoint.password or "guest", wait=True)
    return connection


def _wait(receipts: _Receipts, what: str, send: Callable[[str], None]) -> None:
    receipt, arrived = receipts.expect()
    send(receipt)
    if not arrived.wait(TIMEOUT):
        raise BrokerError(f"STOMP: no receipt for {what} within {TIMEOUT} s")
    if receipts.errors:
        raise BrokerError(f"STOMP broker refused {what}: {receipts.errors.pop()}")


class StompBus(Bus):
    transport = "stomp"
    features = frozenset({"nack", "dead_letter", "buffering", "confirms"})

    def __init__(self, endpoint: BrokerEndpoint, vhost: str, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.endpoint, self.vhost = endpoint, vhost
        self._receipts = _Receipts()
        self._connection = _connect(endpoint, vhost, self._receipts)
        self._send_lock = threading.Lock()

    def destination_headers(self, destination: Destination) -> tuple[str, dict[str, str]]:
        """The STOMP destination and the queue arguments every frame naming it must repeat."""
        if destination.pattern == "topic":
            return f"/topic/{destination.address}", {}
        headers = {"durable": "true", "auto-delete": "false"}
        if destination.dead_letter_address is not None:
            headers |= {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": destination.dead_letter_address}
        return f"{QUEUE_PREFIX}{destination.address}", headers

    def _declare(self, destination: Destination) -> None:
        if destination.dead_letter_address is not None:  # the DLQ must exist before anything is rejected
            self._subscription(Destination(destination.dead_letter_address, "queue"), lambda _: None).start().stop()

    def publish(self, destination: Destination, message: Message) -> None:
        name, headers = self.destination_headers(destination)
        headers = {**message.headers, **headers, MESSAGE_ID: message.message_id, "persistent": "true"}
        if message.correlation_id is not None:
            headers["correlation-id"] = message.correlation_id
        if message.reply_to is not None:
            headers["reply-to"] = QUEUE_PREFIX + message.reply_to
        with self._send_lock:
            _wait(self._receipts, f"SEND to {name}",
                  lambda receipt: self._connection.send(name, message.body, headers=headers, receipt=receipt))

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return StompSubscription(self, destination, handler)

    def _disconnect(self) -> None:
        self._connection.disconnect()


class StompSubscription(Subscription, stomp.ConnectionListener):  # type: ignore[misc]  # stomp.py is untyped: a subclass of Any
    """A SUBSCRIBE on its own connection; stopping disconnects, which returns unacked messages."""

    bus: StompBus

    def __init__(self, bus: StompBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._connection: stomp.Connection12 | None = None
        self._receipts = _Receipts()
        self._id = new_id()

    def _open(self) -> None:
        name, headers = self.bus.destination_headers(self.destination)
        connection = _connect(self.bus.endpoint, self.bus.vhost, self._receipts)
        connection.set_listener("consumer", self)
        self._connection = connection  # messages may arrive before the subscription's receipt
        _wait(self._receipts, f"SUBSCRIBE to {name}", lambda receipt: connection.subscribe(
            name, id=self._id, ack="client-individual", headers={**headers, "prefetch-count": "100"},
            receipt=receipt))

    def on_message(self, frame: stomp.utils.Frame) -> None:
        headers = frame.headers
        reply_to = headers.get("reply-to")
        message = Message(
            body=frame.body,
            headers={k: v for k, v in headers.items() if k not in RESERVED},
            correlation_id=headers.get("correlation-id"),
            reply_to=reply_to.removeprefix(QUEUE_PREFIX) if reply_to else None,
            message_id=headers.get(MESSAGE_ID, ""),
        )
        self.deliver(Delivery(message, headers.get("redelivered") == "true", self._settler(headers["ack"])))

    def _settler(self, ack_id: str) -> Callable[[Settlement], None]:
        connection = self._connection

        def settle(settlement: Settlement) -> None:
            if connection is None:
                return
            if settlement == "ack":
                connection.ack(ack_id)
            else:
                connection.nack(ack_id, requeue="true" if settlement == "requeue" else "false")

        return settle

    def _close(self) -> None:
        """UNSUBSCRIBE first: once its receipt is in, every message sent to us has been handled and
        acked, so disconnecting hands nothing back for redelivery."""
        connection = self._connection
        if connection is not None:
            _wait(self._receipts, f"UNSUBSCRIBE from {self.destination.address}",
                  lambda receipt: connection.unsubscribe(self._id, receipt=receipt))
            connection.disconnect()
            self._connection = None
