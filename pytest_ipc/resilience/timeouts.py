"""Is the client's timeout honoured? Measured from outside while the dependency hangs or dawdles."""

from __future__ import annotations

import time

from ..stub import HttpStub
from .calls import Call, CallOutcome, positive, timed_call


def assert_timeout_honoured(call: Call, budget: float, *, slack: float = 0.3, stub: HttpStub | None = None) -> CallOutcome:
    """`call` must return or raise within `budget` + `slack` seconds (set the dependency to hang or to
    answer late first). With `stub`, a failure also says what the stub saw. Returns the outcome."""
    budget = positive("budget", budget)
    slack = positive("slack", slack)
    limit = budget + slack
    waited = limit + max(budget, 1.0)  # long enough to report a late return as a figure
    outcome = timed_call(call, wait_up_to=waited)
    if outcome.duration is not None and outcome.duration <= limit:
        return outcome
    measured = f"{outcome.duration:.2f} s" if outcome.duration is not None else f"more than {waited:.2f} s (still waiting)"
    raise AssertionError(
        f"timeout not honoured: expected the call to return or raise within {budget:.2f} s "
        f"(+{slack:.2f} s slack), measured {measured} ({_who_waited(outcome, stub)}); "
        f"the call {outcome.describe()}. Does the client set a timeout?"
    )


def _who_waited(outcome: CallOutcome, stub: HttpStub | None) -> str:
    if stub is None:
        return "the client waited for its dependency"
    now = time.monotonic()
    held = [entry for entry in stub.calls() if entry.started >= outcome.started - 0.05]
    if not held:
        return "the stub saw no request from this call"
    longest = max((entry.ended or now) - entry.started for entry in held)
    open_now = sum(1 for entry in held if entry.ended is None)
    still = f", {open_now} still open" if open_now else ""
    return f"the client waited for the stub: it held {len(held)} request(s) for up to {longest:.2f} s{still}"
