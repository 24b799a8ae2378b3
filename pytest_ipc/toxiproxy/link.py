"""One direction of one proxied connection: source transport -> toxic stages -> sink transport.

With no toxics a link is a straight pipe (`data_received` goes to the sink's `write`), which is what
makes the proxy fast. With toxics each one is a `ToxicStage`: an inbox and a task running the toxic's
behaviour (see toxics.py). Stages find their successor when they forward, so adding, updating or
removing a toxic changes live connections at once without pausing the others.

Backpressure: the source stops being read while the sink's write buffer is above its high-water
mark, or while the stages together hold more than `BACKLOG_HIGH` bytes (a slow bandwidth toxic).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_ipc.toxiproxy.counters import ProxyTally
from pytest_ipc.toxiproxy.model import TOXIC_TYPES, Stream, ToxicConfig
from pytest_ipc.toxiproxy.toxics import BEHAVIOURS, Behaviour, Chunk, now, passthrough

if TYPE_CHECKING:
    from pytest_ipc.toxiproxy.proxy import Side

logger = logging.getLogger(__name__)

#: Bytes the stages of one link may hold before the source is paused, and the level that resumes it.
BACKLOG_HIGH = 4 * 1024 * 1024
BACKLOG_LOW = BACKLOG_HIGH // 2


class ToxicStage:
    """A toxic's place in one link: its inbox and the task running its behaviour."""

    def __init__(self, link: Link, toxic: ToxicConfig) -> None:
        self.link = link
        self.toxic = toxic
        self.rng = link.rng
        self.state: dict[str, int] = {}
        self.inbox: deque[Chunk | None] = deque()
        self.closed = False  # cut: passed end-of-stream on by itself; later input is discarded
        self.active = False  # the last toxicity draw succeeded
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def attributes(self) -> dict[str, int]:
        """Every attribute of the toxic's type; one left out counts as 0, as in Toxiproxy."""
        return {name: self.toxic.attributes.get(name, 0) for name in TOXIC_TYPES[self.toxic.type].wire_names}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """(Re)start the behaviour with a fresh toxicity draw (a stage that cut its stream stays cut)."""
        if self.closed:
            return
        self.active = self.rng.random() < self.toxic.toxicity
        if self.active:
            self.link.counters.toxic(self.toxic.name, self.toxic.type).activations += 1
        behaviour = BEHAVIOURS[self.toxic.type] if self.active else passthrough
        self._task = asyncio.get_running_loop().create_task(
            self._run(behaviour), name=f"toxic {self.toxic.name} {self.link.stream}"
        )

    async def _run(self, behaviour: Behaviour) -> None:
        try:
            await behaviour(self)
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken behaviour must not leave the connection hanging half-open
            logger.exception("toxic %s failed; aborting the connection", self.toxic.name)
            self.link.abort_connection()

    def cancel(self) -> asyncio.Task[None] | None:
        """Stop the behaviour (its data stays in the inbox); returns the task to await, if any."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            return task
        return None

    # -- inbox -----------------------------------------------------------------------------------
    def push(self, item: Chunk | None) -> None:
        if self.closed:
            if item is not None:
                self.link.discarded(len(item.data))
            return
        self.inbox.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def head(self) -> Chunk | None:
        while not self.inbox:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self.inbox[0]

    def forward(self, size: int | None = None) -> None:
        item = self.inbox[0]
        if item is not None and size is not None and size < len(item.data):
            piece, item.data = item.data[:size], item.data[size:]
            self.link.deliver(self, Chunk(piece, item.stamp))
            return
        self.inbox.popleft()
        self.link.deliver(self, item)

    def drop(self) -> None:
        item = self.inbox.popleft()
        if item is not None:
            self.link.discarded(len(item.data))

    def cut(self) -> None:
        self.closed = True
        while self.inbox:
            self.drop()
        self.link.counters.toxic(self.toxic.name, self.toxic.type).connections_cut += 1
        self.link.deliver(self, None)

    def reset(self) -> None:
        self.link.counters.toxic(self.toxic.name, self.toxic.type).connections_cut += 1
        self.link.reset_connection()


class Link:
    """Moves the bytes of one direction (`stream`) from `source` to `sink` through the toxic stages."""

    def __init__(
        self,
        stream: Stream,
        source: Side,
        sink: Side,
        counters: ProxyTally,
        rng: random.Random,
        on_reset: Callable[[], object],
        on_abort: Callable[[], object],
    ) -> None:
        self.stream = stream
        self.source = source
        self.sink = sink
        self.counters = counters
        self.rng = rng
        self.stages: list[ToxicStage] = []
        self.backlog = 0  # bytes inside the stages
        self.ended = False  # end-of-stream reached the sink
        self._source_eof = False
        self._sink_paused = False
        self._over_backlog = False
        self._direction = counters.directions[stream]
        self.reset_connection = on_reset
        self.abort_connection = on_abort

    # -- toxics ----------------------------------------------------------------------------------
    def add(self, toxic: ToxicConfig) -> None:
        if self.ended:
            return
        stage = ToxicStage(self, toxic)
        self.stages.append(stage)
        stage.start()

    def _stage_of(self, toxic: ToxicConfig) -> ToxicStage | None:
        return next((stage for stage in self.stages if stage.toxic is toxic), None)

    def restart(self, toxic: ToxicConfig) -> asyncio.Task[None] | None:
        stage = self._stage_of(toxic)
        if stage is None:
            return None
        task = stage.cancel()
        stage.start()
        return task

    def remove(self, toxic: ToxicConfig) -> asyncio.Task[None] | None:
        """Take the toxic out of the chain, handing what it holds to its successor in order.

        A timeout toxic loses its data anyway, and taking it away closes the connection (as upstream
        does) - but only if it was active: a connection whose draw skipped it never noticed it.
        """
        stage = self._stage_of(toxic)
        if stage is None:
            return None
        task = stage.cancel()
        index = self.stages.index(stage)
        del self.stages[index]
        held = list(stage.inbox)
        stage.inbox.clear()
        if toxic.type == "timeout" and stage.active and not stage.closed:
            for item in held:
                if item is not None:
                    self.discarded(len(item.data))
            self.counters.toxic(toxic.name, toxic.type).connections_cut += 1
            held = [None]
        for item in held:
            self._deliver_at(index, item)
        return task

    def cancel(self) -> list[asyncio.Task[None]]:
        return [task for stage in self.stages if (task := stage.cancel()) is not None]

    # -- data path -------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes read from the source."""
        self._direction.received += len(data)
        if self._source_eof:
            return
        if not self.stages:
            self._write(data)
            return
        self.backlog += len(data)
        self.stages[0].push(Chunk(memoryview(data), now()))
        self.throttle()

    def feed_eof(self) -> None:
        """The source closed (EOF or lost); pass end-of-stream through the chain once."""
        if self._source_eof:
            return
        self._source_eof = True
        self._deliver_at(0, None)

    def deliver(self, stage: ToxicStage, item: Chunk | None) -> None:
        """Hand an item from `stage` to its current successor."""
        self._deliver_at(self.stages.index(stage) + 1, item)

    def _deliver_at(self, index: int, item: Chunk | None) -> None:
        if index < len(self.stages):
            self.stages[index].push(item)
            return
        if item is None:
            self._end()
            return
        self.backlog -= len(item.data)
        self._write(item.data)
        self.throttle()

    def _write(self, data: bytes | memoryview) -> None:
        transport = self.sink.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self._direction.sent += len(data)

    def _end(self) -> None:
        """End-of-stream reached the sink: close it (no half-close); the other link then ends too."""
        if self.ended:
            return
        self.ended = True
        if self.sink.transport is not None:
            self.sink.transport.close()

    def discarded(self, size: int) -> None:
        self.backlog -= size
        self.throttle()

    # -- flow control ----------------------------------------------------------------------------
    def sink_paused(self, paused: bool) -> None:
        self._sink_paused = paused
        self.throttle()

    def throttle(self) -> None:
        """Read the source only while the sink keeps up and the stages hold less than BACKLOG_HIGH.

        The transport's own reading state is the truth (both calls are idempotent): the source is
        also paused before the link exists (see proxy.Side), so a flag of our own could disagree.
        """
        if self.backlog >= BACKLOG_HIGH:
            self._over_backlog = True
        elif self.backlog <= BACKLOG_LOW:
            self._over_backlog = False
        transport = self.source.transport
        if transport is None or transport.is_closing():
            return
        if self._sink_paused or self._over_backlog:
            transport.pause_reading()
        else:
            transport.resume_reading()
