"""Timing a client's call from the outside, without ever waiting on it for good.

Every assertion runs the user's call on a daemon thread and waits a bounded time: a client without
a timeout against a hung stub must fail the test, not hang it. Such a thread ends when the stub lets
go of the connection (the `http_stub` fixture cancels hung requests at teardown).

A call may be a plain function or return a coroutine (an `async def` with httpx.AsyncClient): the
coroutine runs with `asyncio.run` on that thread, so open the AsyncClient inside it.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Call = Callable[[], object]
THREAD_NAME = "pytest-ipc-resilience-call"


@dataclass
class CallOutcome:
    """How one call ended: `duration` is None when it was still running as we stopped waiting."""

    started: float
    duration: float | None = None
    value: object = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.duration is not None

    def describe(self) -> str:
        if not self.finished:
            return "was still running"
        if self.error is not None:
            return f"raised {type(self.error).__module__}.{type(self.error).__qualname__}: {self.error} after {self.duration:.3f} s"
        return f"returned {self.value!r} after {self.duration:.3f} s"


async def _timed_async(awaitable: Awaitable[object], outcome: CallOutcome) -> None:
    try:
        outcome.value = await awaitable
    except Exception as error:  # noqa: BLE001  (whatever the client raises is what we measure)
        outcome.error = error
    outcome.duration = time.monotonic() - outcome.started


def _run_one(call: Call, outcome: CallOutcome) -> None:
    outcome.started = time.monotonic()
    try:
        result = call()
        if inspect.isawaitable(result):
            asyncio.run(_timed_async(result, outcome))
            return
        outcome.value = result
    except Exception as error:  # noqa: BLE001  (as above)
        outcome.error = error
    outcome.duration = time.monotonic() - outcome.started


def timed_call(call: Call, wait_up_to: float) -> CallOutcome:
    """Run `call` once and wait at most `wait_up_to` seconds for it."""
    check_callable(call)
    outcome = CallOutcome(started=time.monotonic())
    worker = threading.Thread(target=_run_one, args=(call, outcome), name=THREAD_NAME, daemon=True)
    worker.start()
    worker.join(wait_up_to)
    return outcome


def timed_calls_concurrently(call: Call, count: int, wait_up_to: float) -> list[CallOutcome]:
    """Start `count` calls at once (threads, or one event loop for an `async def`) and time each."""
    check_callable(call)
    outcomes = [CallOutcome(started=time.monotonic()) for _ in range(count)]
    if inspect.iscoroutinefunction(call):
        workers = [threading.Thread(target=asyncio.run, args=(_gather(call, outcomes),), name=THREAD_NAME, daemon=True)]
    else:
        workers = [threading.Thread(target=_run_one, args=(call, outcome), name=THREAD_NAME, daemon=True) for outcome in outcomes]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + wait_up_to
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    return outcomes


async def _gather(call: Callable[[], Awaitable[object]], outcomes: list[CallOutcome]) -> None:
    async def one(outcome: CallOutcome) -> None:
        outcome.started = time.monotonic()
        await _timed_async(call(), outcome)

    await asyncio.gather(*(one(outcome) for outcome in outcomes))


def check_callable(call: object) -> None:
    if not callable(call):
        raise TypeError(f"expected a callable that makes one client call (e.g. lambda: client.get(url)), got {call!r}")


def positive(name: str, value: object) -> float:
    """Validate a duration argument of an assertion (seconds > 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)
