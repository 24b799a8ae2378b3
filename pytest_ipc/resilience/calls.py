"""Timing a client's calls from the outside, without ever waiting on them for good.

The assertions are written once, as probes (generators) that ask for calls and sleeps (`Calls`,
`Sleep`) and judge what came back; two drivers run them. `drive` runs each call on a daemon thread
and waits a bounded time: a client without a timeout against a hung stub must fail the test, not
hang it (such a thread ends when the stub lets go of the connection, at the latest at teardown).
A call may be a plain function or return a coroutine (an `async def`): the coroutine runs with
`asyncio.run` on that thread, so open async clients inside it. `drive_async` runs the calls as tasks
on the caller's own event loop (the `aio` forms; asyncio or trio, through anyio), so a client made
in an async test can be driven; calls still running when it stops waiting are cancelled.

Concurrent calls start together (a barrier for threads, one gather for tasks): what the cap, the
breaker's half-open and the jitter checks measure is what happens when calls really overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc.resilience._reporting import Watch

if TYPE_CHECKING:
    from pytest_ipc.faults.vocabulary import Fault

Call = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]
THREAD_NAME = "pytest-ipc-resilience-call"
POLL = 0.02  # seconds between looks at a probe's `enough`
T = TypeVar("T")


class ResilienceUsageError(IpcUsageError):
    """An assertion's argument it cannot use; the message says what it takes."""


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


@dataclass(frozen=True)
class Calls:
    """A probe's request: start `count` calls at once and wait up to `wait_up_to` s for them, or
    until `enough()` is true (the verdict is known: a runaway client need not be waited for)."""

    count: int
    wait_up_to: float
    enough: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Sleep:
    """A probe's request: wait until `time.monotonic()` reaches `until` (a cool-down: nothing to poll)."""

    until: float


Step = Calls | Sleep
Probe = Generator[Step, Any, T]


# -- threads ----------------------------------------------------------------------------------------
async def _finish(awaitable: Awaitable[object], outcome: CallOutcome) -> None:
    try:
        outcome.value = await awaitable
    except Exception as error:  # whatever the client raises is what we measure
        outcome.error = error
    outcome.duration = time.monotonic() - outcome.started


def _run_one(call: Call, outcome: CallOutcome, barrier: threading.Barrier | None) -> None:
    if barrier is not None:
        with contextlib.suppress(threading.BrokenBarrierError):  # start anyway: the measurement says how far apart the calls were
            barrier.wait(timeout=5.0)
    outcome.started = time.monotonic()
    try:
        result = call()
        if inspect.isawaitable(result):
            asyncio.run(_finish(result, outcome))
            return
        outcome.value = result
    except Exception as error:  # as above
        outcome.error = error
    outcome.duration = time.monotonic() - outcome.started


def timed_calls(call: Call, count: int, wait_up_to: float, enough: Callable[[], bool] | None = None) -> list[CallOutcome]:
    """Start `count` calls at once, each on its own thread, and wait at most `wait_up_to` s for them
    (less once `enough()` is true)."""
    outcomes = [CallOutcome(started=time.monotonic()) for _ in range(count)]
    barrier = threading.Barrier(count) if count > 1 else None
    workers = [threading.Thread(target=_run_one, args=(call, outcome, barrier), name=THREAD_NAME, daemon=True) for outcome in outcomes]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + wait_up_to
    for worker in workers:
        while worker.is_alive() and (left := deadline - time.monotonic()) > 0:
            worker.join(left if enough is None else min(left, POLL))
            if enough is not None and enough():
                return outcomes
    return outcomes


def drive(call: Call, probe: Probe[T], *, fault: Fault | None = None) -> T:
    """Run `probe` with threads and `time.sleep`; returns what the probe returns. The calls and the
    verdict go in the resilience report (`fault`: what the probe is about, when it injects several)."""
    check_callable(call)
    watch = Watch(getattr(probe, "__name__", ""), fault)
    answer: object = None
    while True:
        try:
            step = probe.send(answer)
        except StopIteration as done:
            watch.passed()
            return done.value  # type: ignore[no-any-return]
        except IpcAssertionError:
            watch.failed()
            raise
        if isinstance(step, Sleep):
            time.sleep(max(0.0, step.until - time.monotonic()))
            answer = None
        else:
            answer = timed_calls(call, step.count, step.wait_up_to, step.enough)
            watch.calls(answer)


# -- the caller's event loop ------------------------------------------------------------------------
async def timed_calls_async(
    call: AsyncCall, count: int, wait_up_to: float, enough: Callable[[], bool] | None = None
) -> list[CallOutcome]:
    """Start `count` calls at once as tasks on this loop; cancel those still running after `wait_up_to` s
    (or once `enough()` is true).

    anyio's task group and cancel scope, so the same code serves asyncio (pytest-asyncio, anyio) and trio.
    """
    outcomes = [CallOutcome(started=time.monotonic()) for _ in range(count)]
    misuse: list[object] = []

    async def one(outcome: CallOutcome) -> None:
        outcome.started = time.monotonic()
        result = call()
        if not inspect.isawaitable(result):
            misuse.append(result)
            return
        await _finish(result, outcome)

    async def watch(waiting: anyio.CancelScope) -> None:
        """Stop waiting for the calls once `enough()`; end by itself when they all have."""
        assert enough is not None
        while not all(outcome.finished for outcome in outcomes) and not misuse:
            if enough():
                waiting.cancel()
                return
            await anyio.sleep(POLL)

    with anyio.move_on_after(wait_up_to) as waiting:  # cancels the calls still running: they stay unfinished
        async with anyio.create_task_group() as group:
            for outcome in outcomes:
                group.start_soon(one, outcome)
            if enough is not None:
                group.start_soon(watch, waiting)
    if misuse:
        raise ResilienceUsageError(
            f"the aio assertions take an async call (e.g. lambda: client.get(url) on an AsyncClient); it returned {misuse[0]!r}"
        )
    return outcomes


async def drive_async(call: AsyncCall, probe: Probe[T], *, fault: Fault | None = None) -> T:
    """Run `probe` on the running loop with tasks and `asyncio.sleep`; returns what the probe returns
    (reported as `drive` does)."""
    check_callable(call)
    watch = Watch(getattr(probe, "__name__", ""), fault)
    answer: object = None
    while True:
        try:
            step = probe.send(answer)
        except StopIteration as done:
            watch.passed()
            return done.value  # type: ignore[no-any-return]
        except IpcAssertionError:
            watch.failed()
            raise
        if isinstance(step, Sleep):
            await anyio.sleep(max(0.0, step.until - time.monotonic()))
            answer = None
        else:
            answer = await timed_calls_async(call, step.count, step.wait_up_to, step.enough)
            watch.calls(answer)


# -- argument checks --------------------------------------------------------------------------------
def check_callable(call: object) -> None:
    if not callable(call):
        raise ResilienceUsageError(f"expected a callable that makes one client call (e.g. lambda: client.get(url)), got {call!r}")


def positive(name: str, value: object) -> float:
    """Validate a duration argument of an assertion (seconds > 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise ResilienceUsageError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def whole(name: str, value: object, minimum: int) -> int:
    """Validate a count argument of an assertion."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ResilienceUsageError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
