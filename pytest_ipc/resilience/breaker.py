"""Does the client's circuit breaker open, half-open and close? Probed black-box against the stub.

The probe drives the client while the stub fails (set that up first: `fail_first`, a 503 `status`
fault...) and reads only clocks and the journal:

1. `threshold` calls each reach the stub;
2. then calls fail fast (< `fail_fast` s) and no longer reach it: the breaker is open;
3. after `cool_down`, exactly one trial call reaches the stub; it fails, so the calls after it fail
   fast again (half-open, then open);
4. `heal()` makes the stub answer well; after another `cool_down` the trial call succeeds and every
   later call reaches the stub again: the breaker closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..stub import HttpStub, Route
from .adapters import BreakerStates
from .calls import Call, CallOutcome, positive, timed_call

COOL_DOWN_MARGIN = 0.05  # waited past the cool-down, so the breaker's own clock has surely expired


@dataclass
class BreakerProbe:
    """A run of the probe; `transcript` lists every call with what the stub saw."""

    call: Call
    stub: HttpStub
    route: Route | str | None
    fail_fast: float
    call_timeout: float
    observer: BreakerStates | None
    transcript: list[str] = field(default_factory=list)

    def requests(self) -> int:
        return len(self.stub.calls(self.route))

    def one_call(self, phase: str) -> tuple[CallOutcome, int]:
        """One call; returns how it ended and how many requests it made at the stub."""
        self.poll()  # a hook-less library's half-open shows only as time passes, before the next call
        before = self.requests()
        outcome = timed_call(self.call, wait_up_to=self.call_timeout)
        reached = self.requests() - before
        self.poll()
        self.transcript.append(f"  {len(self.transcript) + 1}. {phase}: {reached} request(s) at the stub; the call {outcome.describe()}")
        if outcome.duration is None:
            self.fail(f"a call in phase '{phase}' did not finish within {self.call_timeout:.2f} s; does the client set a timeout?")
        return outcome, reached

    def poll(self) -> None:
        if self.observer is not None:
            self.observer.poll()

    def expect_reaches(self, phase: str) -> None:
        _, reached = self.one_call(phase)
        if reached == 0:
            self.fail(f"in phase '{phase}' the call was expected to reach the stub, but the stub saw no request (is the breaker open too early or for too long?)")

    def expect_fails_fast(self, phase: str, problem: str) -> None:
        outcome, reached = self.one_call(phase)
        took = outcome.duration or 0.0
        if reached or took >= self.fail_fast:
            measured = f"it made {reached} request(s) at the stub and took {took:.3f} s"
            self.fail(f"{problem}: expected the call to fail fast (< {self.fail_fast:.3f} s) without reaching the stub; {measured}")

    def fail(self, message: str) -> None:
        states = f"\nbreaker states seen: {self.observer.describe()}" if self.observer is not None else ""
        raise AssertionError(f"{message}\nprobe so far:\n" + "\n".join(self.transcript) + states)


def assert_breaker(
    call: Call,
    stub: HttpStub,
    *,
    threshold: int,
    cool_down: float,
    heal: Callable[[], None],
    route: Route | str | None = None,
    fail_fast: float = 0.05,
    calls_while_open: int = 3,
    call_timeout: float = 5.0,
    observer: BreakerStates | None = None,
) -> list[str]:
    """Probe the breaker as described in this module's docstring; returns the transcript.

    `route` limits the counting to one stub route; `observer` (an adapter from
    `pytest_ipc.resilience.adapters`) adds the library's own state changes to failure messages.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValueError(f"threshold must be an int >= 1 (failures that open the breaker), got {threshold!r}")
    if isinstance(calls_while_open, bool) or not isinstance(calls_while_open, int) or calls_while_open < 1:
        raise ValueError(f"calls_while_open must be an int >= 1, got {calls_while_open!r}")
    cool_down = positive("cool_down", cool_down)
    if not callable(heal):
        raise TypeError(f"heal must be a callable that makes the stub answer well again, got {heal!r}")
    probe = BreakerProbe(call, stub, route, positive("fail_fast", fail_fast), positive("call_timeout", call_timeout), observer)

    for _ in range(threshold):
        probe.expect_reaches("failing")
    opened_at = time.monotonic()
    for number in range(calls_while_open):
        probe.expect_fails_fast("open", f"breaker did not open after {threshold} failing calls (call {threshold + number + 1})")

    _sleep_until(opened_at + cool_down + COOL_DOWN_MARGIN)
    probe.expect_reaches("half-open trial (stub still failing)")
    reopened_at = time.monotonic()
    for _ in range(calls_while_open):
        probe.expect_fails_fast("open again", "more than one trial call in half-open, or the failed trial did not open the breaker again")

    heal()
    _sleep_until(reopened_at + cool_down + COOL_DOWN_MARGIN)
    probe.expect_reaches("half-open trial (stub healed)")
    for _ in range(calls_while_open):
        _, reached = probe.one_call("closed")
        if reached == 0:
            probe.fail("breaker did not close after a successful trial call: a later call did not reach the stub")
    return probe.transcript


def _sleep_until(deadline: float) -> None:
    """Waiting out the breaker's cool-down is the point here: there is nothing to poll."""
    time.sleep(max(0.0, deadline - time.monotonic()))
