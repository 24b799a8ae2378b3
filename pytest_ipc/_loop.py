"""A private asyncio event loop on a daemon thread.

Pytest fixtures are synchronous while our servers (fault proxy, HTTP stub) are asyncio. Each server
runs on a `LoopThread`, so a test's own sockets and sleeps never stall it, and stopping the thread
cancels every task it started: nothing outlives the fixture.

The loop is uvloop's when it is installed (it forwards a small message through the fault proxy
with markedly less CPU than asyncio's selector loop); `PYTEST_IPC_EVENT_LOOP` chooses explicitly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from pytest_ipc._loop_choice import EVENT_LOOP_ENV, EventLoopChoiceError, chosen

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the kind the session or `PYTEST_IPC_EVENT_LOOP` chooses (`_loop_choice`)."""
    choice = chosen()
    if choice == "asyncio":
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise EventLoopChoiceError(
                f"{EVENT_LOOP_ENV}=uvloop but uvloop is not installed (pip install uvloop), "
                f"or choose {EVENT_LOOP_ENV}=asyncio"
            ) from None
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def event_loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """Which implementation `loop` is ("uvloop" or "asyncio"), for reports."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


async def sleep_until(deadline: float) -> None:
    """Sleep until `time.monotonic()` reaches `deadline`, never waking before it.

    Deadlines are on time.monotonic(), the clock tests measure with, not loop.time(): uvloop's timers
    count whole milliseconds and can fire up to one early, so what is left is slept again (under a
    millisecond, which uvloop turns into one pass of the loop).
    """
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(left)


class LoopThread:
    """Runs one event loop on a named daemon thread until `stop()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()

    def start(self) -> LoopThread:
        self._thread.start()
        self._started.wait()
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            self._cancel_remaining_tasks()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    def _cancel_remaining_tasks(self) -> None:
        tasks = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run `coroutine` on the loop from another thread and return its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{self.name}: run() called from the loop's own thread")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def settle(self, timeout: float = 5.0) -> None:
        """Return once the loop has run what was scheduled before this call (tasks' first steps
        included); at once when called from the loop's own thread or on a stopped loop."""
        if threading.current_thread() is self._thread or not self.running:
            return
        done = threading.Event()
        self.loop.call_soon_threadsafe(done.set)
        done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, cancel its tasks and join the thread (idempotent)."""
        if not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"{self.name}: event loop thread did not stop within {timeout} s")
