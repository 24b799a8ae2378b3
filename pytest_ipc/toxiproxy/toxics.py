"""What each toxic type does to the bytes of one direction of one connection.

A behaviour is a coroutine that works on its stage's inbox through the `Stage` interface. The rule
that makes live add/update/remove safe: a behaviour never holds data across an `await`. It peeks at
the head of the inbox, waits, then forwards, drops or trims the head in one synchronous step. A
behaviour can therefore be cancelled at any await (update restarts it, removal flushes the inbox to
the next stage) without losing or duplicating a byte.

`None` in an inbox is the end of the stream (the source closed).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from pytest_ipc._loop import sleep_until


class Chunk:
    """Bytes on their way through a link, stamped with the `now()` they reached the stage chain."""

    __slots__ = ("data", "stamp")

    def __init__(self, data: memoryview, stamp: float) -> None:
        self.data = data
        self.stamp = stamp


class Stage(Protocol):
    """The operations a behaviour may perform on its place in the chain (implemented by link.ToxicStage)."""

    rng: random.Random
    #: Survives restarts of the stage (limit_data counts bytes per connection, not per run).
    state: dict[str, int]

    @property
    def attributes(self) -> dict[str, int]:
        """Every attribute of the toxic's type, at its current value (0 when left out)."""

    async def head(self) -> Chunk | None:
        """Wait until the inbox holds something and return its first item without taking it."""

    def forward(self, size: int | None = None) -> None:
        """Pass the head (or only its first `size` bytes, keeping the rest as head) to the next stage."""

    def drop(self) -> None:
        """Discard the head."""

    def cut(self) -> None:
        """End the stream here: pass end-of-stream on, discard everything that arrives later."""

    def reset(self) -> None:
        """Abort the whole connection with a TCP RST on both sockets."""


Behaviour = Callable[[Stage], Awaitable[None]]

#: Timers count whole milliseconds (epoll, libuv): a shorter pause is spent passing through the loop.
MIN_SLEEP = 0.001
#: Pieces the slicer writes back to back (no delay) before letting the loop serve others.
YIELD_EVERY = 64


#: The clock of chunk stamps and toxic deadlines. Not loop.time(): uvloop's counts whole milliseconds.
now = time.monotonic


async def passthrough(stage: Stage) -> None:
    """The stage of a toxic whose toxicity draw failed: forwards everything unchanged."""
    while True:
        item = await stage.head()
        stage.forward()
        if item is None:
            return


async def latency(stage: Stage) -> None:
    """Delay each chunk by latency +- jitter ms from its arrival (pipelined: delays do not accumulate)."""
    delay_ms, jitter = stage.attributes["latency"], stage.attributes["jitter"]
    while True:
        item = await stage.head()
        if item is None:
            stage.forward()
            return
        drawn = delay_ms + (stage.rng.randrange(-jitter, jitter) if jitter > 0 else 0)
        due = item.stamp + drawn / 1000
        await sleep_until(due)
        item.stamp = max(item.stamp, due)  # a stacked latency toxic counts from here: delays add
        stage.forward()


async def bandwidth(stage: Stage) -> None:
    """Pace bytes to `rate` KB/s (1 KB = 1000 B); big chunks leave in 100 ms slices; rate 0 stalls."""
    rate = stage.attributes["rate"]  # KB/s is bytes per millisecond
    slice_size = rate * 100
    owed = 0.0  # seconds the bytes forwarded so far still have to wait
    while True:
        item = await stage.head()
        if item is None:
            stage.forward()
            return
        if rate <= 0:
            await asyncio.Event().wait()  # stalls until the toxic is updated or removed
        owed += len(item.data) / (rate * 1000)
        while len(item.data) > slice_size:
            await asyncio.sleep(0.1)
            stage.forward(slice_size)
            owed -= 0.1
        started = now()
        if owed > 0:
            await asyncio.sleep(owed)
        owed -= now() - started
        stage.forward()


async def slow_close(stage: Stage) -> None:
    """Pass data; hold the end of the stream for `delay` ms."""
    while True:
        item = await stage.head()
        if item is None:
            await asyncio.sleep(max(0, stage.attributes["delay"]) / 1000)
            stage.forward()
            return
        stage.forward()


async def timeout(stage: Stage) -> None:
    """Drop all data; close after `timeout` ms without incoming data (0: never)."""
    limit = stage.attributes["timeout"] / 1000
    while True:
        try:
            async with asyncio.timeout(limit if limit > 0 else None):
                item = await stage.head()
        except TimeoutError:
            stage.cut()
            return
        if item is None:
            stage.forward()
            return
        stage.drop()


async def reset_peer(stage: Stage) -> None:
    """On the first chunk (or end of stream) discard it, wait `timeout` ms, then reset the connection."""
    await stage.head()
    stage.drop()
    await asyncio.sleep(max(0, stage.attributes["timeout"]) / 1000)
    stage.reset()


def slice_sizes(length: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Split `length` bytes the way Toxiproxy's slicer does: halve around the middle +- variation
    until pieces are within variation of the average size (clamped so no piece is empty)."""
    average, variation = max(1, average), max(0, variation)
    sizes: list[int] = []
    pending = [length]  # a stack of spans, the next one to split on top
    while pending:
        span = pending.pop()
        if span - average <= variation or span < 2:
            sizes.append(span)
            continue
        middle = span // 2
        if variation > 0:
            middle += rng.randrange(-variation, variation)
        middle = min(max(middle, 1), span - 1)
        pending += (span - middle, middle)
    return sizes


async def pause(seconds: float) -> None:
    """Wait at least `seconds`, however short, serving the loop's other work meanwhile.

    A pause under a timer's millisecond passes through the loop until the clock has moved on, so
    10 µs costs about 10 µs (a loop pass), not the millisecond a timer would round it up to.
    """
    deadline = now() + seconds
    if seconds >= MIN_SLEEP:
        await sleep_until(deadline)
        return
    while now() < deadline:
        await asyncio.sleep(0)


async def slicer(stage: Stage) -> None:
    """Forward each chunk as pieces of about average_size bytes, pausing `delay` µs after each, as
    upstream does: a receiver sees the pieces one by one, even when the delay is under a millisecond."""
    average, variation = stage.attributes["average_size"], stage.attributes["size_variation"]
    gap = max(0, stage.attributes["delay"]) / 1_000_000
    while True:
        item = await stage.head()
        if item is None:
            stage.forward()
            return
        for count, size in enumerate(slice_sizes(len(item.data), average, variation, stage.rng), 1):
            stage.forward(size)
            if gap:
                await pause(gap)
            elif count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # thousands of tiny pieces must not starve the other connections


async def limit_data(stage: Stage) -> None:
    """Forward at most `bytes` bytes over the connection's lifetime (last chunk trimmed), then close."""
    limit = stage.attributes["bytes"]
    while True:
        item = await stage.head()
        if item is None:
            stage.forward()
            return
        allowed = max(0, limit - stage.state.get("sent", 0))
        if allowed >= len(item.data):
            stage.state["sent"] = stage.state.get("sent", 0) + len(item.data)
            stage.forward()
        else:
            if allowed:
                stage.forward(allowed)
            stage.state["sent"] = stage.state.get("sent", 0) + allowed
            stage.drop()
        if limit - stage.state["sent"] <= 0:
            stage.cut()
            return


BEHAVIOURS: dict[str, Behaviour] = {
    "latency": latency,
    "bandwidth": bandwidth,
    "slow_close": slow_close,
    "timeout": timeout,
    "reset_peer": reset_peer,
    "slicer": slicer,
    "limit_data": limit_data,
    "noop": passthrough,
}
