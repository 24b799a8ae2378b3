"""Does the client cap its concurrent requests (a bulkhead), running up to the cap at once and failing
the excess fast?

The probe holds every request at the stub for `hold` seconds (it injects the latency itself), starts
`concurrency` calls at once and reads the stub's journal for that burst only: the peak number of
requests in flight must be exactly `limit`. More is a cap exceeded; fewer is a client that admits
the calls but runs them one at a time (a lock held for the whole call), which a global
`max_in_flight` of at most `limit` would happily pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, ResilienceUsageError, drive, positive, whole

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedCall, ObservedStub


def peak_in_flight(entries: Sequence[ObservedCall]) -> int:
    """The most of `entries` the stub was handling at the same moment (one still open counts to the end)."""
    events = sorted(
        [(entry.started, 1) for entry in entries] + [(entry.ended, -1) for entry in entries if entry.ended is not None]
    )  # at equal times an end (-1) sorts before a start: touching requests do not overlap
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def cap_probe(
    stub: ObservedStub, limit: int, concurrency: int | None, fail_fast: float, hold: float, call_timeout: float
) -> Probe[list[CallOutcome]]:
    limit = whole("limit", limit, 1)
    count = 3 * limit if concurrency is None else concurrency
    if isinstance(count, bool) or not isinstance(count, int) or count <= limit:
        raise ResilienceUsageError(f"concurrency must be an int above the limit ({limit}) to test the cap, got {count!r}")
    fail_fast, hold, call_timeout = positive("fail_fast", fail_fast), positive("hold", hold), positive("call_timeout", call_timeout)
    if hold <= fail_fast:
        raise ResilienceUsageError(f"hold ({hold} s) must be longer than fail_fast ({fail_fast} s), or admitted calls look fast too")
    known = {id(entry) for entry in stub.calls()}
    with faults.inject(faults.latency(hold), into=stub, must_fire=False):
        outcomes: list[CallOutcome] = yield Calls(count, call_timeout)
    burst = [entry for entry in stub.calls() if id(entry) not in known]
    outcomes.sort(key=lambda outcome: float("inf") if outcome.duration is None else outcome.duration)
    peak = peak_in_flight(burst)
    setting = f"{count} calls started at once, each request held {hold:.2f} s at the stub"
    if peak > limit:
        raise IpcAssertionError(
            f"request cap exceeded: expected at most {limit} request(s) in flight at the stub, measured {peak} ({setting})"
        )
    if peak < limit:
        raise IpcAssertionError(
            f"request cap serialised: expected exactly {limit} request(s) in flight at the peak ({setting}, so calls the cap "
            f"admits overlap), measured at most {peak} at once over {len(burst)} request(s): the client runs the calls it "
            "admits one after another (a lock held for the whole call?), so the cap is never really used"
        )
    excess = count - limit
    slow = [outcome for outcome in outcomes[:excess] if outcome.duration is None or outcome.duration >= fail_fast]
    if slow:
        listed = "\n".join(f"  the call {outcome.describe()}" for outcome in outcomes)
        raise IpcAssertionError(
            f"excess calls did not fail fast: of {count} calls at once with a cap of {limit}, the {excess} fastest were "
            f"expected to end within {fail_fast:.3f} s; {len(slow)} took longer and {len(burst)} request(s) reached the "
            f"stub (queued behind the cap?):\n{listed}"
        )
    return outcomes


def assert_request_cap(
    stub: ObservedStub,
    limit: int,
    *,
    call: Call,
    concurrency: int | None = None,
    fail_fast: float = 0.05,
    hold: float = 0.3,
    call_timeout: float = 5.0,
) -> list[CallOutcome]:
    """`concurrency` (default 3 x `limit`) calls at once against a stub holding each request `hold` s:
    exactly `limit` requests in flight at the peak, and the excess calls each fail within
    `fail_fast` s. Give the client a timeout above `hold`. Returns the outcomes, fastest first."""
    return drive(call, cap_probe(stub, limit, concurrency, fail_fast, hold, call_timeout))
