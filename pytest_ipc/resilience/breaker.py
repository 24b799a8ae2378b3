"""Does the client's circuit breaker open, half-open and close? Probed black-box against the stub.

The probe makes the stub fail itself (`failure`, default ``faults.status(503)``; any stub-layer fault)
and heals it by removing that fault, reading only clocks and the journal:

0. errors that must not count (`not_counted`, e.g. ``[faults.status(404)]``): `threshold` + 1 calls
   answered with each all reach the stub (the breaker stays closed);
1. `threshold` failing calls each reach the stub;
2. then calls fail fast (< `fail_fast` s) and no longer reach it: the breaker is open;
3. after `cool_down`, `concurrent` calls start at once while the stub holds each request `hold` s
   (so they overlap) and still fails: exactly one trial reaches the stub (the others may fail fast
   or wait for the trial's verdict, but must not reach it); the failed trial opens the breaker again;
4. the stub heals; after another `cool_down` a trial call succeeds and later calls reach the stub.

Every failure names the phase and the defect, with the transcript of calls so far.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.faults.layers import check_supported, layer_of
from pytest_ipc.resilience.adapters import BreakerStates
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, ResilienceUsageError, Sleep, drive, positive, whole
from pytest_ipc.resilience.cap import peak_in_flight

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedCall, ObservedStub

COOL_DOWN_MARGIN = 0.05  # waited past the cool-down, so the breaker's own clock has surely expired


@dataclass
class BreakerProbe:
    """A run of the probe; `transcript` lists every call with what the stub saw."""

    stub: ObservedStub
    route: object
    fail_fast: float
    call_timeout: float
    observer: BreakerStates | None
    transcript: list[str] = field(default_factory=list)

    def requests(self) -> list[ObservedCall]:
        return list(self.stub.calls(self.route))

    def calls(self, phase: str, count: int = 1) -> Probe[tuple[list[CallOutcome], list[ObservedCall]]]:
        """`count` calls at once; returns how they ended and the requests they made at the stub."""
        self.poll()  # a hook-less library's half-open shows only as time passes, before the next call
        known = {id(entry) for entry in self.requests()}
        outcomes: list[CallOutcome] = yield Calls(count, self.call_timeout)
        reached = [entry for entry in self.requests() if id(entry) not in known]
        self.poll()
        for outcome in outcomes:
            at_stub = f"{len(reached)} request(s) at the stub" + ("" if count == 1 else f" from {count} calls")
            self.transcript.append(f"  {len(self.transcript) + 1}. {phase}: {at_stub}; the call {outcome.describe()}")
        stuck = [outcome for outcome in outcomes if outcome.duration is None]
        if stuck:
            self.fail(
                f"phase '{phase}': {len(stuck)} call(s) did not finish within {self.call_timeout:.2f} s (call_timeout); "
                "the breaker probe needs calls that end"
            )
        return outcomes, reached

    def expect_reaches(self, phase: str, defect: str) -> Probe[None]:
        _, reached = yield from self.calls(phase)
        if not reached:
            self.fail(f"{defect} (phase '{phase}'): expected the call to reach the stub; the stub saw no request")

    def expect_fails_fast(self, phase: str, defect: str) -> Probe[None]:
        outcomes, reached = yield from self.calls(phase)
        took = outcomes[0].duration or 0.0
        if reached or took >= self.fail_fast:
            self.fail(
                f"{defect} (phase '{phase}'): expected the call to fail fast (< {self.fail_fast:.3f} s) without reaching "
                f"the stub; it made {len(reached)} request(s) at the stub and took {took:.3f} s"
            )

    def poll(self) -> None:
        if self.observer is not None:
            self.observer.poll()

    def fail(self, message: str) -> None:
        states = f"\nbreaker states seen: {self.observer.describe()}" if self.observer is not None else ""
        raise IpcAssertionError(f"{message}\nprobe so far:\n" + "\n".join(self.transcript) + states)


def breaker_probe(
    stub: ObservedStub,
    *,
    threshold: int,
    cool_down: float,
    failure: faults.Fault,
    not_counted: Sequence[faults.Fault],
    route: object,
    fail_fast: float,
    calls_while_open: int,
    concurrent: int,
    hold: float,
    call_timeout: float,
    observer: BreakerStates | None,
) -> Probe[list[str]]:
    threshold = whole("threshold", threshold, 1)
    calls_while_open = whole("calls_while_open", calls_while_open, 1)
    concurrent = whole("concurrent", concurrent, 2)
    cool_down, hold = positive("cool_down", cool_down), positive("hold", hold)
    for fault in [failure, *not_counted]:
        if not isinstance(fault, faults.Fault):
            raise ResilienceUsageError(
                f"failure and not_counted take faults from pytest_ipc.faults (e.g. faults.status(404)), got {fault!r}"
            )
        check_supported(fault, layer_of(stub).name)
    probe = BreakerProbe(stub, route, positive("fail_fast", fail_fast), positive("call_timeout", call_timeout), observer)

    for ignored in not_counted:
        with faults.inject(ignored, into=stub, must_fire=False):
            for number in range(threshold + 1):
                yield from probe.expect_reaches(
                    f"not counted: {ignored.describe()}",
                    f"breaker counts errors that must not count: after {number} call(s) answered with {ignored.describe()}, "
                    f"call {number + 1} did not reach the stub (the breaker opened on errors `not_counted` lists)",
                )

    with faults.inject(failure, into=stub, must_fire=False):
        for _ in range(threshold):
            yield from probe.expect_reaches("failing", "breaker open too early, or a call that never reaches the stub")
        opened_at = time.monotonic()
        for number in range(calls_while_open):
            yield from probe.expect_fails_fast(
                "open", f"breaker did not open after {threshold} failing calls (call {threshold + number + 1})"
            )

        yield Sleep(opened_at + cool_down + COOL_DOWN_MARGIN)
        with faults.inject(faults.latency(hold), into=stub, must_fire=False):  # the trial is slow, so the calls overlap it
            phase = f"half-open ({concurrent} calls at once, stub still failing)"
            _, reached = yield from probe.calls(phase, concurrent)
        if not reached:
            probe.fail(
                f"breaker never half-opens (phase '{phase}'): {cool_down:.2f} s (cool_down) after it opened, none of "
                f"{concurrent} calls reached the stub"
            )
        together = peak_in_flight(reached)
        if together > 1:
            probe.fail(
                f"breaker lets every concurrent call through in half-open (phase '{phase}'): {together} of {concurrent} "
                "calls reached the stub at once; expected exactly one trial (the others must fail fast or wait for its verdict)"
            )
        reopened_at = time.monotonic()
        for _ in range(calls_while_open):
            yield from probe.expect_fails_fast("open again", "the failed half-open trial did not open the breaker again")

    yield Sleep(reopened_at + cool_down + COOL_DOWN_MARGIN)
    yield from probe.expect_reaches("half-open trial (stub healed)", "breaker never half-opens after the stub healed")
    for _ in range(calls_while_open):
        _, reached = yield from probe.calls("closed")
        if not reached:
            probe.fail("breaker did not close after a successful trial call (phase 'closed'): a later call did not reach the stub")
    return probe.transcript


def assert_breaker(
    call: Call,
    stub: ObservedStub,
    *,
    threshold: int,
    cool_down: float,
    failure: faults.Fault | None = None,
    not_counted: Sequence[faults.Fault] = (),
    route: object = None,
    fail_fast: float = 0.05,
    calls_while_open: int = 3,
    concurrent: int = 5,
    hold: float = 0.2,
    call_timeout: float = 5.0,
    observer: BreakerStates | None = None,
) -> list[str]:
    """Probe the breaker as described in this module's docstring; returns the transcript.

    `route` limits the counting to one stub route; `observer` (an adapter from
    `pytest_ipc.resilience.adapters`) adds the library's own state changes to failure messages.
    """
    return drive(
        call,
        breaker_probe(
            stub, threshold=threshold, cool_down=cool_down, failure=failure or faults.status(503), not_counted=not_counted,
            route=route, fail_fast=fail_fast, calls_while_open=calls_while_open, concurrent=concurrent, hold=hold,
            call_timeout=call_timeout, observer=observer,
        ),
        fault=failure or faults.status(503),
    )  # fmt: skip
