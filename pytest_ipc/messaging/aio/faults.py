"""The messaging faults for async publishers and consumers: the same decisions as
`messaging.faults` (shared base classes), awaiting where the sync wrappers call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from pytest_ipc.messaging.aio.channel import Delivery, Handler, Subscription
from pytest_ipc.messaging.channel import buffering_feature
from pytest_ipc.messaging.faults import (
    DeadLetterDecisions,
    DuplicateDecisions,
    RedeliverDecisions,
    ReorderBuffer,
)

T = TypeVar("T")


class Duplicate(DuplicateDecisions, Generic[T]):
    """Awaits a `probability` share of items twice (see `messaging.faults.Duplicate`)."""

    def __init__(self, target: Callable[[T], Awaitable[object]], probability: float = 1.0, *, seed: int = 0) -> None:
        super().__init__(probability, seed=seed)
        self.target = target

    async def __call__(self, item: T) -> None:
        await self.target(item)
        if self._again():
            await self.target(item)


def duplicate(target: Callable[[T], Awaitable[object]], probability: float = 1.0, *, seed: int = 0) -> Duplicate[T]:
    """Wrap the async `target` so a `probability` share of items goes out twice."""
    return Duplicate(target, probability, seed=seed)


class Reorder(ReorderBuffer[T]):
    """Passes items on in shuffled windows (see `messaging.faults.Reorder`); a partial window is
    flushed after `max_delay` seconds by a task on the running loop; `await close()` flushes the rest."""

    def __init__(self, target: Callable[[T], Awaitable[object]], window: int, *, seed: int = 0, max_delay: float = 0.2) -> None:
        super().__init__(window, seed=seed, max_delay=max_delay)
        self.target = target
        self._send_lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> None:
        if self._hold(item):
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_delay)
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Send what is buffered now, shuffled."""
        async with self._send_lock:  # batches leave in the order they filled up
            if self._timer is not None and self._timer is not asyncio.current_task():
                self._timer.cancel()
                self._timer = None
            for item in self._take():
                await self.target(item)

    async def close(self) -> None:
        """Flush what is left."""
        await self.flush()


def reorder(target: Callable[[T], Awaitable[object]], window: int, *, seed: int = 0, max_delay: float = 0.2) -> Reorder[T]:
    """Wrap the async `target` so items go out in shuffled windows of `window`."""
    return Reorder(target, window, seed=seed, max_delay=max_delay)


class Redeliver(RedeliverDecisions):
    """Nacks (with requeue) the first `times` deliveries of each message, then awaits `handler`."""

    def __init__(self, handler: Handler, times: int = 1) -> None:
        super().__init__(times)
        self.handler = handler

    async def __call__(self, delivery: Delivery) -> None:
        if self._nack_this(delivery):
            await delivery.nack(requeue=True)
        else:
            await self.handler(delivery)


class DeadLetterAfter(DeadLetterDecisions):
    """Retries a handler that raises, and after `max_attempts` failures rejects the message to the
    dead-letter queue (see `messaging.faults.DeadLetterAfter`)."""

    def __init__(self, handler: Handler, max_attempts: int = 3) -> None:
        super().__init__(max_attempts)
        self.handler = handler

    async def __call__(self, delivery: Delivery) -> None:
        try:
            await self.handler(delivery)
        except Exception:  # any failure counts as an attempt
            await delivery.nack(requeue=not self._give_up(delivery))


@asynccontextmanager
async def consumer_down(subscription: Subscription) -> AsyncIterator[None]:
    """Stop a consumer for the block and restart it after: what the block publishes must be buffered
    by the broker and delivered on restart."""
    subscription.bus.require(*buffering_feature(subscription.destination))
    await subscription.stop()
    try:
        yield
    finally:
        await subscription.start()
