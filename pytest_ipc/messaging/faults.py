"""Messaging faults as composable wrappers.

Publisher-side faults wrap any one-argument callable, usually `channel.publish`:
`duplicate(reorder(channel.publish, window=4), probability=0.5)`. Consumer-side faults wrap a handler
and drive the broker's own redelivery (`Redeliver`) and dead-lettering (`DeadLetterAfter`).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from pytest_ipc.messaging.channel import Feature, Subscription
from pytest_ipc.messaging.message import Delivery, Handler

T = TypeVar("T")


class Duplicate(Generic[T]):
    """Passes a `probability` share of items on twice: the duplicates at-least-once delivery produces
    (a publisher retrying after a lost confirm). Seeded, so a failing run repeats."""

    def __init__(self, target: Callable[[T], object], probability: float = 1.0, *, seed: int = 0) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {probability}")
        self.target = target
        self.probability = probability
        self.duplicated = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, item: T) -> None:
        self.target(item)
        with self._lock:
            again = self._random.random() < self.probability
            self.duplicated += again
        if again:
            self.target(item)


def duplicate(target: Callable[[T], object], probability: float = 1.0, *, seed: int = 0) -> Duplicate[T]:
    return Duplicate(target, probability, seed=seed)


class Reorder(Generic[T]):
    """Holds items until `window` are buffered, then passes them on in a shuffled (never the original)
    order. An item waits at most `max_delay` seconds, so a partial window still drains; `close()`
    flushes what is left."""

    def __init__(self, target: Callable[[T], object], window: int, *, seed: int = 0, max_delay: float = 0.2) -> None:
        if window < 2:
            raise ValueError(f"a reordering window needs at least 2 items, got {window}")
        self.target = target
        self.window = window
        self.max_delay = max_delay
        self._random = random.Random(seed)
        self._buffer: list[T] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self, item: T) -> None:
        with self._lock:
            self._buffer.append(item)
            if len(self._buffer) < self.window:
                if self._timer is None:
                    self._timer = threading.Timer(self.max_delay, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def flush(self) -> None:
        with self._send_lock:  # batches leave in the order they filled up
            with self._lock:
                batch, self._buffer = self._buffer, []
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            for item in self._shuffled(batch):
                self.target(item)

    def _shuffled(self, batch: list[T]) -> list[T]:
        shuffled = batch[:]
        self._random.shuffle(shuffled)
        if len(batch) > 1 and shuffled == batch:
            shuffled = batch[1:] + batch[:1]
        return shuffled

    def close(self) -> None:
        self.flush()


def reorder(target: Callable[[T], object], window: int, *, seed: int = 0, max_delay: float = 0.2) -> Reorder[T]:
    return Reorder(target, window, seed=seed, max_delay=max_delay)


class Redeliver:
    """Nacks (with requeue) the first `times` deliveries of each message, then hands it to `handler`:
    the broker must deliver it again, marked redelivered."""

    requires: tuple[Feature, ...] = ("nack",)

    def __init__(self, handler: Handler, times: int = 1) -> None:
        self.handler = handler
        self.times = times
        self.nacks: Counter[str] = Counter()
        self.redelivered_seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        message_id = delivery.message.message_id
        with self._lock:
            if delivery.redelivered:
                self.redelivered_seen.add(message_id)
            nack = self.nacks[message_id] < self.times
            if nack:
                self.nacks[message_id] += 1
        if nack:
            delivery.nack(requeue=True)
        else:
            self.handler(delivery)


class DeadLetterAfter:
    """Retries a handler that raises by nacking with requeue, and after `max_attempts` failures rejects
    the message so the broker moves it to the dead-letter queue: how a poison message should end."""

    requires: tuple[Feature, ...] = ("nack", "dead_letter")

    def __init__(self, handler: Handler, max_attempts: int = 3) -> None:
        self.handler = handler
        self.max_attempts = max_attempts
        self.failures: Counter[str] = Counter()
        self.dead_lettered: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        try:
            self.handler(delivery)
        except Exception:  # noqa: BLE001 - any failure counts as an attempt
            message_id = delivery.message.message_id
            with self._lock:
                self.failures[message_id] += 1
                give_up = self.failures[message_id] >= self.max_attempts
                if give_up:
                    self.dead_lettered.append(message_id)
            delivery.nack(requeue=not give_up)


@contextmanager
def consumer_down(subscription: Subscription) -> Iterator[None]:
    """Stop a consumer for the block and restart it after: what the block publishes must be buffered
    by the broker and delivered on restart."""
    if subscription.destination.pattern == "queue":
        subscription.bus.require("buffering", "it keeps nothing for a consumer that is down")
    else:
        subscription.bus.require("topic_buffering", "it keeps nothing for a topic subscriber that is down")
    subscription.stop()
    try:
        yield
    finally:
        subscription.start()
