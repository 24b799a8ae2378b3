"""Is the client's time bounded? Measured from outside while the dependency hangs, dawdles or dribbles.

When the call overruns, the message says what the stub saw, because the fix depends on it: one
request held all along (no timeout), a dribbled answer read to the end (a per-read timeout but no
deadline), or attempt after attempt (a per-attempt timeout, retried with no overall deadline).
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc._observed import arrived_since
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, drive, positive

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedCall, ObservedStub

TRICKLES = ("dribble", "bandwidth")  # stub faults that keep an answer coming slowly


def timeout_probe(budget: float, slack: float, stub: ObservedStub | None) -> Probe[CallOutcome]:
    budget, slack = positive("budget", budget), positive("slack", slack)
    outcome: CallOutcome = (yield Calls(1, patience(budget, slack)))[0]
    return within_budget(outcome, budget, slack, stub, "timeout", "return or raise")


def patience(budget: float, slack: float) -> float:
    """How long to wait for a call bounded by `budget` + `slack`: long enough to report a late return as a figure."""
    return budget + slack + max(budget, 1.0)


def within_budget(
    outcome: CallOutcome, budget: float, slack: float, stub: ObservedStub | None, bound: str, ends: str
) -> CallOutcome:
    """`outcome` if the call `ends` within `budget` + `slack`; else the verdict that its `bound` (timeout,
    deadline) was not honoured, with what the stub saw (the timeout and deadline assertions share it)."""
    if outcome.duration is not None and outcome.duration <= budget + slack:
        return outcome
    measured = f"{outcome.duration:.2f} s" if outcome.duration is not None else f"more than {patience(budget, slack):.2f} s (still waiting)"
    raise IpcAssertionError(
        f"{bound} not honoured: expected the call to {ends} within {budget:.2f} s (+{slack:.2f} s slack), "
        f"measured {measured}; the call {outcome.describe()}.\n{overrun_diagnosis(outcome, stub, budget)}"
    )


def assert_timeout_honoured(call: Call, budget: float, *, slack: float = 0.3, stub: ObservedStub | None = None) -> CallOutcome:
    """`call` must return or raise within `budget` + `slack` seconds (make the dependency hang, answer
    late or dribble first). With `stub`, a failure says what the stub saw. Returns the outcome."""
    return drive(call, timeout_probe(budget, slack, stub))


def overrun_diagnosis(outcome: CallOutcome, stub: ObservedStub | None, budget: float) -> str:
    """What the stub saw of a call that overran, and so what to fix."""
    if stub is None:
        return "Is there a timeout on each attempt and a deadline on the whole call, retries included? (Pass stub= to see what it saw.)"
    now = time.monotonic()
    seen = sorted(arrived_since(stub.calls(), outcome.started), key=lambda entry: entry.started)
    if not seen:
        return "The stub saw no request from this call: the time went elsewhere (did the call use the stub's URL?)."
    if len(seen) == 1:
        entry = seen[0]
        held = (entry.ended or now) - entry.started
        if any(fault in TRICKLES for fault in entry.faults):
            return (
                f"Measured at the stub: one request, its answer trickling in for {held:.2f} s and the client reading on. "
                "A per-read timeout never fires while bytes keep coming: the client has no total deadline on the call."
            )
        return (
            f"Measured at the stub: one request, held {held:.2f} s{' and still open' if entry.ended is None else ''} while the "
            f"client waited: it sets no timeout on the request, or one longer than {budget:.2f} s."
        )
    gaps = [later.started - earlier.started for earlier, later in itertools.pairwise(seen)]
    span = (seen[-1].ended or now) - seen[0].started
    return (
        f"Measured at the stub: {len(seen)} attempts over {span:.2f} s, a new one every {statistics.median(gaps):.2f} s "
        f"(each attempt gave up, then the client retried): {_attempts(seen)}. Each attempt has a timeout, but nothing "
        f"bounds the whole call: add an overall deadline of at most {budget:.2f} s across the retries (or fewer retries)."
    )


def _attempts(entries: list[ObservedCall]) -> str:
    first = entries[0].started
    shown = ", ".join(f"+{entry.started - first:.2f} s" for entry in entries[:6])
    return f"attempts at {shown}{', ...' if len(entries) > 6 else ''}"
