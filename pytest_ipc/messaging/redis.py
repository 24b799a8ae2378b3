"""Redis adapter (redis-py): streams with a consumer group for point-to-point, PUBLISH/SUBSCRIBE for pub/sub.

Streams keep messages for a consumer that is down and acknowledge with XACK. Redis has no nack or
dead-letter queue, so both are emulated and documented here: `nack(requeue=True)` re-appends a copy
marked redelivered (it arrives after what is already queued, unlike RabbitMQ's head requeue) and
acks the original; `nack(requeue=False)` on a queue made with `dead_letter=True` appends it to the
`<queue>.dlq` stream. Pub/sub is fire-and-forget: a stopped subscriber misses what is published.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import cast

import redis
import redis.exceptions
from redis.typing import EncodableT, FieldT

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.messaging.channel import (
    Bus,
    Destination,
    Feature,
    Subscription,
    unsupported_settle,
)
from pytest_ipc.messaging.message import Delivery, Handler, Message, Settlement, new_id

GROUP = "workers"
StreamBatches = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None
"""What XREADGROUP answers: per stream, its entries as (id, fields)."""
READ_BLOCK = 0.1
"""Seconds a stream read waits for news: bounds how quickly `stop()` returns."""


def stream_fields(message: Message, redelivered: bool = False) -> dict[FieldT, EncodableT]:
    return {
        "body": message.body,
        "headers": json.dumps(dict(message.headers)),
        "correlation_id": message.correlation_id or "",
        "reply_to": message.reply_to or "",
        "message_id": message.message_id,
        "redelivered": "1" if redelivered else "",
    }


def pubsub_envelope(message: Message) -> str:
    """A message as one PUBLISH payload (JSON; the body in base64)."""
    return json.dumps({
        **{str(k): v for k, v in stream_fields(message).items() if k != "body"},
        "body": base64.b64encode(message.body).decode(),
    })


ENVELOPE_KEYS = frozenset({"body", "headers", "correlation_id", "reply_to", "message_id"})


def message_from_envelope(data: bytes) -> Message:
    """A PUBLISH payload as a message: ours unwrapped, anyone else's (a service under test publishing
    plain bytes) as its body, whole, so a capture sees what that publisher sent."""
    try:
        envelope = json.loads(data)
    except ValueError:
        return Message(body=data)
    if not isinstance(envelope, dict) or not envelope.keys() >= ENVELOPE_KEYS:
        return Message(body=data)
    return Message(
        body=base64.b64decode(envelope["body"]),
        headers=json.loads(envelope["headers"]),
        correlation_id=envelope["correlation_id"] or None,
        reply_to=envelope["reply_to"] or None,
        message_id=envelope["message_id"],
    )


def message_from_fields(fields: dict[bytes, bytes]) -> Message:
    """A stream entry as a message: ours unwrapped; anyone else's as the value of its one field, or as
    a JSON object of its fields when it has several."""
    text = {key.decode(errors="replace"): value for key, value in fields.items()}
    if not text.keys() >= ENVELOPE_KEYS:
        if len(text) == 1:
            return Message(body=next(iter(text.values())))
        return Message(body=json.dumps({key: value.decode(errors="replace") for key, value in text.items()}).encode())
    return Message(
        body=text["body"],
        headers=json.loads(text["headers"]),
        correlation_id=text["correlation_id"].decode() or None,
        reply_to=text["reply_to"].decode() or None,
        message_id=text["message_id"].decode(),
    )


FEATURES: frozenset[Feature] = frozenset({"nack", "dead_letter", "buffering", "confirms"})


class RedisBus(Bus):
    transport = "redis"
    features = FEATURES

    def __init__(self, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.client = redis.Redis(
            host=endpoint.host, port=endpoint.port, username=endpoint.username, password=endpoint.password,
            socket_timeout=10,
        )
        self.client.ping()
        self._keys: set[str] = set()

    def _declare(self, destination: Destination) -> None:
        if destination.pattern == "queue":
            self.ensure_group(destination.address)
            if destination.dead_letter_address is not None:
                self.ensure_group(destination.dead_letter_address)

    def ensure_group(self, stream: str) -> None:
        """Create the stream's consumer group reading from the start (so nothing published earlier is missed)."""
        try:
            self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._keys.add(stream)

    def publish(self, destination: Destination, message: Message) -> None:
        """For a queue, returns after Redis appended it (XADD's reply is the confirmation)."""
        if destination.pattern == "queue":
            self.client.xadd(destination.address, stream_fields(message))
        else:
            self.client.publish(destination.address, pubsub_envelope(message))

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        if destination.pattern == "queue":
            return StreamSubscription(self, destination, handler)
        return PubSubSubscription(self, destination, handler)

    def _disconnect(self) -> None:
        try:
            if self._keys:
                self.client.delete(*self._keys)
        except redis.exceptions.ConnectionError:
            pass  # a restarted server without persistence has nothing left to delete
        finally:
            self.client.close()


class StreamSubscription(Subscription):
    """A consumer in the stream's consumer group: competing consumers share the stream's messages."""

    bus: RedisBus

    def __init__(self, bus: RedisBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self.consumer = f"consumer-{new_id()[:8]}"
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _open(self) -> None:
        self.bus.ensure_group(self.destination.address)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._consume, name=f"redis-consumer {self.destination.address}", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        client, stream = self.bus.client, self.destination.address
        while not self._stopping.is_set():
            try:
                batches = cast(
                    StreamBatches, client.xreadgroup(GROUP, self.consumer, {stream: ">"}, count=10, block=int(READ_BLOCK * 1000))
                )
            except redis.exceptions.ConnectionError as error:  # server restart: keep trying until stopped
                self.errors.append(error)
                self._stopping.wait(0.1)
                continue
            for _, entries in batches or []:
                for entry_id, fields in entries:
                    message = message_from_fields(fields)
                    self.deliver(Delivery(message, fields.get(b"redelivered") == b"1", self._settler(entry_id, message)))

    def _settler(self, entry_id: bytes, message: Message) -> Callable[[Settlement], None]:
        stream, dead_letters = self.destination.address, self.destination.dead_letter_address

        def settle(settlement: Settlement) -> None:
            pipeline = self.bus.client.pipeline(transaction=True)
            if settlement == "requeue":
                pipeline.xadd(stream, stream_fields(message, redelivered=True))
            elif settlement == "reject" and dead_letters is not None:
                pipeline.xadd(dead_letters, stream_fields(message))
            pipeline.xack(stream, GROUP, entry_id)
            pipeline.execute()

        return settle

    def _close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


class PubSubSubscription(Subscription):
    """A SUBSCRIBE on its own connection; ready once Redis confirmed the subscription."""

    bus: RedisBus

    def __init__(self, bus: RedisBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._pubsub: redis.client.PubSub | None = None
        self._thread: redis.client.PubSubWorkerThread | None = None

    def _open(self) -> None:
        pubsub = self.bus.client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
        pubsub.subscribe(**{self.destination.address: self._on_message})
        confirmation = pubsub.get_message(timeout=10)
        if not confirmation or confirmation["type"] != "subscribe":
            pubsub.close()
            raise BrokerError(f"redis did not confirm SUBSCRIBE {self.destination.address}: {confirmation!r}")
        self._pubsub = pubsub
        self._thread = pubsub.run_in_thread(sleep_time=0.01, daemon=True)

    def _on_message(self, raw: dict[str, bytes]) -> None:
        self.deliver(Delivery(message_from_envelope(raw["data"]), False, unsupported_settle("redis pub/sub")))

    def _close(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread.join(10)
        if self._pubsub is not None:
            self._pubsub.close()
        self._pubsub = self._thread = None

