"""NATS JetStream adapter: queues are streams read through one durable pull consumer ("workers")
shared by competing subscriptions, so messages are kept for a consumer that is down, acknowledged,
nak'ed (redelivered at once) and confirmed on publish (the PubAck). Topics and reply inboxes stay
core NATS, as in `NatsBus`.

JetStream has no dead-letter queue; it is emulated and documented here: `nack(requeue=False)` on a
queue made with `dead_letter=True` publishes the message to the `<queue>.dlq` stream, then
terminates it (`term`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import nats.errors
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.messaging.channel import Destination, Feature, Subscription
from pytest_ipc.messaging.message import Delivery, Handler, Message, Settlement
from pytest_ipc.messaging.nats import GROUP, NatsBus, message_from, nats_headers

FETCH_TIMEOUT = 0.2
"""How long one pull waits for messages: bounds how quickly `stop()` returns."""


def stream_name(subject: str) -> str:
    """Stream names allow neither dots nor wildcards: derive one from the (unique) subject."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", subject)


FEATURES: frozenset[Feature] = frozenset({"nack", "dead_letter", "buffering", "confirms"})


class JetStreamBus(NatsBus):
    transport = "jetstream"
    features = FEATURES

    def __init__(self, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> None:
        super().__init__(endpoint, qualify)
        self.js: JetStreamContext = self.client.jetstream()
        self._streams: set[str] = set()

    def _declare(self, destination: Destination) -> None:
        if destination.pattern == "queue":
            for subject in filter(None, (destination.address, destination.dead_letter_address)):
                self.loop.run(self.js.add_stream(name=stream_name(subject), subjects=[subject]))
                self._streams.add(subject)

    def is_stream(self, address: str) -> bool:
        return address in self._streams

    def publish(self, destination: Destination, message: Message) -> None:
        """To a stream: returns once JetStream stored it (its PubAck). Elsewhere: core NATS."""
        if not self.is_stream(destination.address):
            super().publish(destination, message)
            return
        self.loop.run(self.js.publish(destination.address, message.body, headers=nats_headers(message)))

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        if self.is_stream(destination.address):
            return JetStreamSubscription(self, destination, handler)
        return super()._subscription(destination, handler)

    def _disconnect(self) -> None:
        try:
            for subject in self._streams:
                self.loop.run(self.js.delete_stream(stream_name(subject)))
        finally:
            super()._disconnect()


class JetStreamSubscription(Subscription):
    """A pull loop on its own thread; stopping it keeps the durable consumer, so the stream keeps
    what arrives meanwhile for this consumer group."""

    bus: JetStreamBus

    def __init__(self, bus: JetStreamBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pull: JetStreamContext.PullSubscription | None = None

    def _open(self) -> None:
        self._pull = self.bus.loop.run(self.bus.js.pull_subscribe(
            self.destination.address, durable=GROUP, stream=stream_name(self.destination.address)))
        self._stopping.clear()
        self._thread = threading.Thread(target=self._consume, name=f"jetstream-consumer {self.destination.address}", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        assert self._pull is not None
        while not self._stopping.is_set():
            try:
                batch = self.bus.loop.run(self._pull.fetch(batch=10, timeout=FETCH_TIMEOUT))
            except (nats.errors.TimeoutError, TimeoutError):  # nothing to fetch (nats-py raises either)
                continue
            except nats.errors.Error as error:  # server restart: keep pulling until stopped
                self.errors.append(error)
                self._stopping.wait(0.1)
                continue
            for msg in batch:
                redelivered = msg.metadata.num_delivered is not None and msg.metadata.num_delivered > 1
                message = message_from(msg, native_reply=False)
                self.deliver(Delivery(message, redelivered, self._settler(msg, message)))

    def _settler(self, msg: Msg, message: Message) -> Callable[[Settlement], None]:
        dead_letters = self.destination.dead_letter_address

        async def settle_async(settlement: Settlement) -> None:
            if settlement == "ack":
                await msg.ack()
            elif settlement == "requeue":
                await msg.nak()
            else:
                if dead_letters is not None:
                    await self.bus.js.publish(dead_letters, message.body, headers=nats_headers(message))
                await msg.term()

        return lambda settlement: self.bus.loop.run(settle_async(settlement))

    def _close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._pull is not None:
            self.bus.loop.run(self._pull.unsubscribe())
            self._pull = None
