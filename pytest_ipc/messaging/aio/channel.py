"""The async channel protocol: the sync classes' names and methods, awaited, over asyncio clients.

Everything that needs no I/O comes from the sync side (`Destinations`, `after_handler`, the capture
record, `Settled`); adapters implement `publish`, `_subscription` and `_disconnect` with an asyncio
client library. A subscription handles one delivery at a time, as a sync one does on its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self

from pytest_ipc.messaging.capture import RECHECK, CaptureRecord, Predicate
from pytest_ipc.messaging.channel import (
    Destination,
    Destinations,
    after_handler,
    as_message,
    dead_letter_destination,
    handler_requirements,
    unsupported_settle,
)
from pytest_ipc.messaging.message import Message, Settled, Settlement

log = logging.getLogger(__name__)

Settle = Callable[[Settlement], Awaitable[None]]


class Delivery(Settled):
    """One delivery of a message to an async consumer, settled at most once (`await delivery.ack()`)."""

    def __init__(self, message: Message, redelivered: bool, settle: Settle) -> None:
        super().__init__(message, redelivered)
        self._settle = settle

    async def ack(self) -> None:
        """The message is handled: the broker may forget it."""
        await self._finish("ack")

    async def nack(self, requeue: bool = True) -> None:
        """Not handled: deliver it again (`requeue`), or reject it (to the dead-letter queue, if any)."""
        await self._finish("requeue" if requeue else "reject")

    async def _finish(self, settlement: Settlement) -> None:
        self._check_unsettled()
        await self._settle(settlement)
        self.settlement = settlement


Handler = Callable[[Delivery], Awaitable[None]]
"""An async consumer: awaited for each delivery, one at a time per subscription."""


def unsupported_async_settle(transport: str) -> Settle:
    """`unsupported_settle` for async deliveries: acking is a no-op, nacking an error."""
    settle = unsupported_settle(transport)

    async def settle_async(settlement: Settlement) -> None:
        settle(settlement)

    return settle_async


class Subscription(ABC):
    """A running async consumer: `await stop()` pauses it, `await start()` resumes, `await close()`
    ends it for good and removes its broker-side state."""

    def __init__(self, bus: Bus, destination: Destination, handler: Handler) -> None:
        self.bus = bus
        self.destination = destination
        self.handler = handler
        self.errors: list[BaseException] = []
        self.running = False
        self._one_at_a_time = asyncio.Lock()

    async def start(self) -> Self:
        """Subscribe (again, after `stop()`); returns once subscribed."""
        if not self.running:
            await self._open()
            self.running = True
        return self

    async def stop(self) -> None:
        """Pause: the broker keeps what arrives meanwhile, where it can."""
        if self.running:
            self.running = False
            await self._close()

    async def close(self) -> None:
        """End for good and remove the subscription's broker-side state."""
        await self.stop()

    async def deliver(self, delivery: Delivery) -> None:
        """Run the handler; ack what it left unsettled, reject what made it raise."""
        async with self._one_at_a_time:
            if not self._accepting():
                return
            error: Exception | None = None
            try:
                await self.handler(delivery)
            except Exception as raised:  # a consumer bug must not end the consumer
                error = raised
            settlement = after_handler(self.destination, self.errors, self.bus.features, delivery.settled, error)
            if settlement == "ack":
                await delivery.ack()
            elif settlement == "reject":
                await delivery.nack(requeue=False)

    def _accepting(self) -> bool:
        """Whether a delivery that waited for its turn is still this subscription's to handle (an
        adapter whose stop hands undelivered messages back to the broker says no once stopped)."""
        return True

    @abstractmethod
    async def _open(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()


class Bus(Destinations, ABC):
    """One asyncio connection to a broker through one protocol (`transport`); `async with` closes it."""

    def __init__(self, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self._subscriptions: list[Subscription] = []
        self._closed = False

    async def queue(self, local_name: str, *, dead_letter: bool = False) -> Channel:
        """A point-to-point channel; `dead_letter=True` routes rejected messages to `.dead_letters`."""
        destination = self.queue_destination(local_name, dead_letter)
        await self._declare(destination)
        return Channel(self, destination)

    async def topic(self, local_name: str) -> Channel:
        """A pub/sub channel: every subscription gets its own copy of each message."""
        destination = self.topic_destination(local_name)
        await self._declare(destination)
        return Channel(self, destination)

    def at(self, address: str) -> Channel:
        """A point-to-point channel at a full address as found in `Message.reply_to`."""
        return Channel(self, Destination(address, "queue"))

    async def reply_channel(self, local_name: str) -> Channel:
        """A private channel for replies to requests (the NATS adapter uses an inbox instead)."""
        return await self.queue(local_name)

    async def subscribe(self, destination: Destination, handler: Handler) -> Subscription:
        """Start a consumer of `destination` (channels do this through `consume`)."""
        subscription = self._subscription(destination, handler)
        self._subscriptions.append(subscription)
        return await subscription.start()

    async def close(self) -> None:
        """Close every subscription, remove the broker-side objects this bus created, disconnect."""
        if self._closed:
            return
        self._closed = True
        subscriptions, self._subscriptions = self._subscriptions, []
        try:
            for subscription in subscriptions:
                try:
                    await subscription.close()
                except Exception as error:  # one broken consumer must not keep the rest open
                    log.warning("closing the consumer of %s failed: %r", subscription.destination.address, error)
        finally:
            await self._disconnect()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def _declare(self, destination: Destination) -> None:
        """Create broker-side objects the destination needs before anything is published (default: none)."""

    @abstractmethod
    async def publish(self, destination: Destination, message: Message) -> None:
        """Send `message` to `destination` (channels do this through `publish`)."""

    @abstractmethod
    def _subscription(self, destination: Destination, handler: Handler) -> Subscription: ...

    @abstractmethod
    async def _disconnect(self) -> None: ...


class Channel:
    """A destination bound to its async bus: publish to it, consume or capture from it."""

    def __init__(self, bus: Bus, destination: Destination) -> None:
        self.bus = bus
        self.destination = destination

    @property
    def address(self) -> str:
        """The destination's full name on the broker."""
        return self.destination.address

    async def publish(self, message: Message | bytes) -> Message:
        """Send one message (bytes get fresh ids); returns what was sent, for later assertions."""
        message = as_message(message)
        await self.bus.publish(self.destination, message)
        return message

    async def consume(self, handler: Handler) -> Subscription:
        """Start a consumer; it is subscribed when this returns. A fault wrapper that needs an optional
        feature (its `requires`) fails here, naming the transports that have it."""
        for feature in handler_requirements(handler):
            self.bus.require(feature)
        return await self.bus.subscribe(self.destination, handler)

    async def capture(self) -> CaptureSubscription:
        """Start a consumer that records and acks every message."""
        capture = CaptureSubscription(self.address, self.destination.name)

        async def record(delivery: Delivery) -> None:
            capture.add(delivery.message)

        capture.subscription = await self.consume(record)
        return capture

    @property
    def dead_letters(self) -> Channel:
        """The dead-letter queue of a channel made with `queue(..., dead_letter=True)`."""
        return Channel(self.bus, dead_letter_destination(self.destination))

    def __repr__(self) -> str:
        return f"<async {self.bus.transport} {self.destination.pattern} {self.address}>"


class Capture(CaptureRecord):
    """A capture whose `wait_for*` are coroutines: the event loop keeps running (and the consumers on
    it keep delivering) while a test waits. Messages may be added from any thread."""

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> list[Message]:
        """Wait until `predicate(messages)` is true; fail (IpcAssertionError) with what arrived otherwise.

        Checked on every arrival and every `RECHECK` seconds, so it may look at other state too."""
        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(arrived.set)

        deadline = time.monotonic() + timeout
        self._listen(wake)
        try:
            while True:
                arrived.clear()  # before the check: an arrival after it wakes the wait below
                if (messages := self._check(predicate)) is not None:
                    return messages
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._not_met(timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), min(remaining, RECHECK))
        finally:
            self._unlisten(wake)

    async def wait_for_count(self, count: int, timeout: float = 10.0) -> list[Message]:
        """Wait until at least `count` messages arrived."""
        try:
            return await self.wait_for(lambda messages: len(messages) >= count, timeout)
        except AssertionError as error:
            raise self._count_not_met(count, error) from None

    async def wait_for_ids(self, message_ids: Iterable[str], timeout: float = 10.0) -> list[Message]:
        """Wait until every one of `message_ids` arrived at least once."""
        wanted = set(message_ids)
        try:
            return await self.wait_for(lambda messages: wanted <= {m.message_id for m in messages}, timeout)
        except AssertionError as error:
            raise self._ids_not_met(wanted, error) from None


class CaptureSubscription(Capture):
    """An async `Capture` fed by its own subscription, which `stop()`/`start()`/`close()` control."""

    subscription: Subscription

    async def stop(self) -> None:
        """Pause the capture's consumer."""
        await self.subscription.stop()

    async def start(self) -> None:
        """Resume the capture's consumer."""
        await self.subscription.start()

    async def close(self) -> None:
        """End the capture's consumer."""
        await self.subscription.close()
