"""The broker-neutral channel protocol each transport adapter implements.

A `Bus` is one test's connection to one broker through one protocol. `bus.queue("orders")` is a
point-to-point channel (competing consumers, each message handled once), `bus.topic("prices")` a
pub/sub one (every subscriber gets every message). Names are qualified with the handle's namespace,
so tests sharing a broker never see each other's traffic.

What does no I/O is written once here and shared with the async side (`messaging.aio`): the
`Destinations` a bus builds, the feature checks, and what a consumer's outcome settles (`after_handler`).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.messaging.capture import Capture
from pytest_ipc.messaging.message import Delivery, Handler, Message, Settlement

log = logging.getLogger(__name__)

Pattern = Literal["queue", "topic"]
Feature = Literal["nack", "dead_letter", "buffering", "topic_buffering", "confirms", "async"]
"""Optional behaviours: explicit nack with redelivery, dead-letter queues, messages kept for a queue
consumer or a topic subscriber that is down, publisher confirms, and an asyncio client (`messaging.aio`)."""

# Which transports offer each optional feature, so an "unsupported" error can name the alternatives.
FEATURE_SUPPORT: dict[Feature, tuple[str, ...]] = {
    "nack": ("amqp", "stomp", "redis", "jetstream"),
    "dead_letter": ("amqp", "stomp", "redis", "jetstream"),
    "buffering": ("amqp", "stomp", "redis", "jetstream", "mqtt"),
    "topic_buffering": ("amqp", "mqtt"),
    "confirms": ("amqp", "stomp", "redis", "jetstream", "mqtt"),
    "async": ("amqp", "redis", "nats", "jetstream", "mqtt"),
}


class UnsupportedFeature(IpcUsageError):
    """A transport lacks a behaviour a test asked for; the message names the ones that have it."""

    def __init__(self, transport: str, feature: Feature, detail: str = "") -> None:
        alternatives = ", ".join(FEATURE_SUPPORT[feature])
        super().__init__(
            f"{feature} is not supported by {transport}{': ' + detail if detail else ''}; "
            f"use one of: {alternatives}"
        )


@dataclass(frozen=True)
class Destination:
    """Where messages go: a broker address and whether it is point-to-point or pub/sub; `name` is the
    name the test gave it, before the namespace (what an AsyncAPI document calls the channel)."""

    address: str
    pattern: Pattern
    dead_letter_address: str | None = None
    name: str | None = None


class Subscription(ABC):
    """A running consumer. `stop()` pauses it (the broker keeps what arrives meanwhile, where it can);
    `start()` resumes; `close()` ends it for good and removes its broker-side state."""

    def __init__(self, bus: Bus, destination: Destination, handler: Handler) -> None:
        self.bus = bus
        self.destination = destination
        self.handler = handler
        self.errors: list[BaseException] = []
        self.running = False

    def start(self) -> Self:
        """Subscribe (again, after `stop()`); returns once subscribed."""
        if not self.running:
            self._open()
            self.running = True
        return self

    def stop(self) -> None:
        """Pause: the broker keeps what arrives meanwhile, where it can."""
        if self.running:
            self.running = False
            self._close()

    def close(self) -> None:
        """End for good and remove the subscription's broker-side state."""
        self.stop()

    def deliver(self, delivery: Delivery) -> None:
        """Run the handler; ack what it left unsettled, reject what made it raise."""
        error: Exception | None = None
        try:
            self.handler(delivery)
        except Exception as raised:  # a consumer bug must not kill the consumer thread
            error = raised
        settlement = after_handler(self.destination, self.errors, self.bus.features, delivery.settled, error)
        if settlement == "ack":
            delivery.ack()
        elif settlement == "reject":
            delivery.nack(requeue=False)

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def after_handler(
    destination: Destination,
    errors: list[BaseException],
    features: frozenset[Feature],
    settled: bool,
    error: Exception | None,
) -> Settlement | None:
    """How to settle a delivery once its handler returned (`error` None) or raised: ack what it left
    unsettled; reject what made it raise where the transport can (dead-lettering it if so configured),
    otherwise drop it (ack). None: the handler settled it itself. Records the error."""
    if error is not None:
        log.warning("handler for %s raised: %r", destination.address, error)
        errors.append(error)
    if settled:
        return None
    if error is not None and "nack" in features:
        return "reject"
    return "ack"


def handler_requirements(handler: object) -> tuple[Feature, ...]:
    """The optional features a fault wrapper needs (its `requires`), checked before it consumes."""
    return tuple(getattr(handler, "requires", ()))


class Destinations:
    """Names and features of a bus, shared by `Bus` and `aio.Bus`: what needs no I/O."""

    transport: str
    features: frozenset[Feature] = frozenset()

    def __init__(self, qualify: Callable[[str], str]) -> None:
        self._qualify = qualify

    def queue_destination(self, local_name: str, dead_letter: bool) -> Destination:
        address = self._qualify(local_name)
        if dead_letter:
            self.require("dead_letter")
        return Destination(address, "queue", self.dead_letter_address(address) if dead_letter else None, local_name)

    def topic_destination(self, local_name: str) -> Destination:
        return Destination(self._qualify(local_name), "topic", name=local_name)

    def require(self, feature: Feature, detail: str = "") -> None:
        """Raise `UnsupportedFeature` unless this transport has `feature`."""
        if feature not in self.features:
            raise UnsupportedFeature(self.transport, feature, detail)

    def dead_letter_address(self, address: str) -> str:
        """Where a queue's rejected messages go."""
        return f"{address}.dlq"


def dead_letter_destination(destination: Destination) -> Destination:
    if destination.dead_letter_address is None:
        raise IpcUsageError(
            f"{destination.address} has no dead-letter queue: create it with queue(..., dead_letter=True)"
        )
    return Destination(destination.dead_letter_address, "queue")


def buffering_feature(destination: Destination) -> tuple[Feature, str]:
    """What `consumer_down` needs of the transport for a subscription to `destination`."""
    if destination.pattern == "queue":
        return "buffering", "it keeps nothing for a consumer that is down"
    return "topic_buffering", "it keeps nothing for a topic subscriber that is down"


def as_message(message: Message | bytes) -> Message:
    """Bytes become a message with fresh ids."""
    return Message(message) if isinstance(message, bytes) else message


class Bus(Destinations, ABC):
    """One connection to a broker through one protocol (`transport`)."""

    def __init__(self, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- what tests use -----------------------------------------------------------------------------
    def queue(self, local_name: str, *, dead_letter: bool = False) -> Channel:
        """A point-to-point channel; `dead_letter=True` routes rejected messages to `.dead_letters`."""
        destination = self.queue_destination(local_name, dead_letter)
        self._declare(destination)
        return Channel(self, destination)

    def topic(self, local_name: str) -> Channel:
        """A pub/sub channel: every subscription gets its own copy of each message."""
        destination = self.topic_destination(local_name)
        self._declare(destination)
        return Channel(self, destination)

    def at(self, address: str) -> Channel:
        """A point-to-point channel at a full address as found in `Message.reply_to`."""
        return Channel(self, Destination(address, "queue"))

    def reply_channel(self, local_name: str) -> Channel:
        """A private channel for replies to requests (the NATS adapter uses an inbox instead)."""
        return self.queue(local_name)

    def close(self) -> None:
        """Close every subscription, remove the broker-side objects this bus created, disconnect."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        try:
            for subscription in subscriptions:
                try:
                    subscription.close()
                except Exception as error:  # one broken consumer must not keep the rest open
                    log.warning("closing the consumer of %s failed: %r", subscription.destination.address, error)
        finally:
            self._disconnect()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def subscribe(self, destination: Destination, handler: Handler) -> Subscription:
        """Start a consumer of `destination` (channels do this through `consume`)."""
        subscription = self._subscription(destination, handler)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription.start()

    # -- what adapters implement --------------------------------------------------------------------
    def _declare(self, destination: Destination) -> None:
        """Create broker-side objects the destination needs before anything is published (default: none)."""

    @abstractmethod
    def publish(self, destination: Destination, message: Message) -> None:
        """Send `message` to `destination` (channels do this through `publish`)."""

    @abstractmethod
    def _subscription(self, destination: Destination, handler: Handler) -> Subscription: ...

    @abstractmethod
    def _disconnect(self) -> None: ...


class Channel:
    """A destination bound to its bus: publish to it, consume or capture from it."""

    def __init__(self, bus: Bus, destination: Destination) -> None:
        self.bus = bus
        self.destination = destination

    @property
    def address(self) -> str:
        """The destination's full name on the broker."""
        return self.destination.address

    def publish(self, message: Message | bytes) -> Message:
        """Send one message (bytes get fresh ids); returns what was sent, for later assertions."""
        message = as_message(message)
        self.bus.publish(self.destination, message)
        return message

    def consume(self, handler: Handler) -> Subscription:
        """Start a consumer; it is ready (subscribed) when this returns. A fault wrapper that needs an
        optional feature (its `requires`) fails here, naming the transports that have it."""
        for feature in handler_requirements(handler):
            self.bus.require(feature)
        return self.bus.subscribe(self.destination, handler)

    def capture(self) -> CaptureSubscription:
        """Start a consumer that records and acks every message."""
        capture = CaptureSubscription(self.address, self.destination.name)
        capture.subscription = self.consume(lambda delivery: capture.add(delivery.message))
        return capture

    @property
    def dead_letters(self) -> Channel:
        """The dead-letter queue of a channel made with `queue(..., dead_letter=True)`."""
        return Channel(self.bus, dead_letter_destination(self.destination))

    def __repr__(self) -> str:
        return f"<{self.bus.transport} {self.destination.pattern} {self.address}>"


class CaptureSubscription(Capture):
    """A `Capture` fed by its own subscription, which `stop()`/`start()`/`close()` control."""

    subscription: Subscription

    def stop(self) -> None:
        """Pause the capture's consumer."""
        self.subscription.stop()

    def start(self) -> None:
        """Resume the capture's consumer."""
        self.subscription.start()

    def close(self) -> None:
        """End the capture's consumer."""
        self.subscription.close()


def unsupported_settle(transport: str) -> Callable[[Settlement], None]:
    """Settlement for transports without acknowledgements: acking is a no-op, nacking an error."""

    def settle(settlement: Settlement) -> None:
        if settlement != "ack":
            raise UnsupportedFeature(transport, "nack", "it has no negative acknowledgement")

    return settle
