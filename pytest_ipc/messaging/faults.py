"""Messaging faults as composable wrappers.

Publisher-side faults wrap any one-argument callable, usually `channel.publish`:
`duplicate(reorder(channel.publish, window=4), probability=0.5)`. Consumer-side faults wrap a handler
and drive the broker's own redelivery (`Redeliver`), dead-lettering (`DeadLetterAfter`) or stand in
for a consumer process that dies mid-processing (`CrashMidProcessing`).

Each fault's decisions (what to duplicate, the shuffled order, when to nack, when to give up, when
to crash) live in a base class here, shared with the async wrappers of `messaging.aio.faults`, which
only await where these call.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from pytest_ipc._errors import IpcError, IpcUsageError
from pytest_ipc.messaging.channel import Feature, Subscription, buffering_feature
from pytest_ipc.messaging.message import Delivery, Handler, Settled

T = TypeVar("T")


class DuplicateDecisions:
    """Which items go out twice: a seeded `probability` share, counted in `duplicated`."""

    def __init__(self, probability: float = 1.0, *, seed: int = 0) -> None:
        if not 0.0 <= probability <= 1.0:
            raise IpcUsageError(f"probability must be between 0 and 1, got {probability}")
        self.probability = probability
        self.duplicated = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def _again(self) -> bool:
        with self._lock:
            again = self._random.random() < self.probability
            self.duplicated += again
        return again


class Duplicate(DuplicateDecisions, Generic[T]):
    """Passes a `probability` share of items on twice: the duplicates at-least-once delivery produces
    (a publisher retrying after a lost confirm). Seeded, so a failing run repeats."""

    def __init__(self, target: Callable[[T], object], probability: float = 1.0, *, seed: int = 0) -> None:
        super().__init__(probability, seed=seed)
        self.target = target

    def __call__(self, item: T) -> None:
        self.target(item)
        if self._again():
            self.target(item)


def duplicate(target: Callable[[T], object], probability: float = 1.0, *, seed: int = 0) -> Duplicate[T]:
    """Wrap `target` so a `probability` share of items goes out twice."""
    return Duplicate(target, probability, seed=seed)


class ReorderBuffer(Generic[T]):
    """Holds items until `window` are buffered, then releases them in a shuffled (never the original)
    order. Subclasses send the released batches and flush a partial window after `max_delay`."""

    def __init__(self, window: int, *, seed: int = 0, max_delay: float = 0.2) -> None:
        if window < 2:
            raise IpcUsageError(f"a reordering window needs at least 2 items, got {window}")
        self.window = window
        self.max_delay = max_delay
        self._random = random.Random(seed)
        self._buffer: list[T] = []
        self._lock = threading.Lock()

    def _hold(self, item: T) -> bool:
        """Buffer `item`; True when the window is full (flush now)."""
        with self._lock:
            self._buffer.append(item)
            return len(self._buffer) >= self.window

    def _take(self) -> list[T]:
        """The buffered items in their release order; the buffer is empty after."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        shuffled = batch[:]
        self._random.shuffle(shuffled)
        if len(batch) > 1 and shuffled == batch:
            shuffled = batch[1:] + batch[:1]
        return shuffled


class Reorder(ReorderBuffer[T]):
    """Passes items on in shuffled windows of `window`; an item waits at most `max_delay` seconds,
    so a partial window still drains; `close()` flushes what is left."""

    def __init__(self, target: Callable[[T], object], window: int, *, seed: int = 0, max_delay: float = 0.2) -> None:
        super().__init__(window, seed=seed, max_delay=max_delay)
        self.target = target
        self._send_lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self, item: T) -> None:
        if self._hold(item):
            self.flush()
            return
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self.max_delay, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send what is buffered now, shuffled."""
        with self._send_lock:  # batches leave in the order they filled up
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            for item in self._take():
                self.target(item)

    def close(self) -> None:
        """Flush what is left."""
        self.flush()


def reorder(target: Callable[[T], object], window: int, *, seed: int = 0, max_delay: float = 0.2) -> Reorder[T]:
    """Wrap `target` so items go out in shuffled windows of `window`."""
    return Reorder(target, window, seed=seed, max_delay=max_delay)


class RedeliverDecisions:
    """Nack (with requeue) the first `times` deliveries of each message; note which came back
    marked redelivered."""

    requires: tuple[Feature, ...] = ("nack",)

    def __init__(self, times: int = 1) -> None:
        self.times = times
        self.nacks: Counter[str] = Counter()
        self.redelivered_seen: set[str] = set()
        self._lock = threading.Lock()

    def _nack_this(self, delivery: Settled) -> bool:
        message_id = delivery.message.message_id
        with self._lock:
            if delivery.redelivered:
                self.redelivered_seen.add(message_id)
            nack = self.nacks[message_id] < self.times
            if nack:
                self.nacks[message_id] += 1
        return nack


class Redeliver(RedeliverDecisions):
    """Nacks (with requeue) the first `times` deliveries of each message, then hands it to `handler`:
    the broker must deliver it again, marked redelivered."""

    def __init__(self, handler: Handler, times: int = 1) -> None:
        super().__init__(times)
        self.handler = handler

    def __call__(self, delivery: Delivery) -> None:
        if self._nack_this(delivery):
            delivery.nack(requeue=True)
        else:
            self.handler(delivery)


class DeadLetterDecisions:
    """Count a message's failed attempts; after `max_attempts` it is given up (dead-lettered)."""

    requires: tuple[Feature, ...] = ("nack", "dead_letter")

    def __init__(self, max_attempts: int = 3) -> None:
        if max_attempts < 1:
            raise IpcUsageError(f"max_attempts must be at least 1, got {max_attempts}")
        self.max_attempts = max_attempts
        self.failures: Counter[str] = Counter()
        self.dead_lettered: list[str] = []
        self._lock = threading.Lock()

    def _give_up(self, delivery: Settled) -> bool:
        """Count one more failure; True when this was the last attempt."""
        message_id = delivery.message.message_id
        with self._lock:
            self.failures[message_id] += 1
            give_up = self.failures[message_id] >= self.max_attempts
            if give_up:
                self.dead_lettered.append(message_id)
        return give_up


class DeadLetterAfter(DeadLetterDecisions):
    """Retries a handler that raises by nacking with requeue, and after `max_attempts` failures rejects
    the message so the broker moves it to the dead-letter queue: how a poison message should end."""

    def __init__(self, handler: Handler, max_attempts: int = 3) -> None:
        super().__init__(max_attempts)
        self.handler = handler

    def __call__(self, delivery: Delivery) -> None:
        try:
            self.handler(delivery)
        except Exception:  # any failure counts as an attempt
            delivery.nack(requeue=not self._give_up(delivery))


class ConsumerCrash(IpcError):
    """Raised by `CrashMidProcessing` inside a consumer's processing: stands in for the consumer
    process dying there. A consumer under test must not catch it (a dead process catches nothing);
    the test then drops the consumer's connection, as the operating system would."""


class CrashMidProcessing(Generic[T]):
    """Wraps a consumer's processing step (`process(item)`): the `at`-th call raises `ConsumerCrash`
    before doing the work, once; every other call does it. It records the message it crashed on
    (`crashed_on`, found with `message_id(item)`) and every id processed after the crash, the
    evidence `assert_nothing_lost(..., crash=...)` uses to name an ack sent before processing."""

    def __init__(self, process: Callable[[T], object], message_id: Callable[[T], str], *, at: int = 1) -> None:
        if at < 1:
            raise IpcUsageError(f"at counts processing calls from 1, got {at}")
        self.process = process
        self.message_id = message_id
        self.at = at
        self.calls = 0
        self.crashed_on: str | None = None
        self.seen_after_crash: set[str] = set()
        self._lock = threading.Lock()

    @property
    def fired(self) -> bool:
        """Whether the crash happened."""
        return self.crashed_on is not None

    def __call__(self, item: T) -> None:
        message_id = self.message_id(item)
        with self._lock:
            self.calls += 1
            crash = self.calls == self.at
            if crash:
                self.crashed_on = message_id
            elif self.crashed_on is not None:
                self.seen_after_crash.add(message_id)
        if crash:
            raise ConsumerCrash(f"simulated consumer crash while processing message {message_id}")
        self.process(item)


@contextmanager
def consumer_down(subscription: Subscription) -> Iterator[None]:
    """Stop a consumer for the block and restart it after: what the block publishes must be buffered
    by the broker and delivered on restart."""
    subscription.bus.require(*buffering_feature(subscription.destination))
    subscription.stop()
    try:
        yield
    finally:
        subscription.start()
