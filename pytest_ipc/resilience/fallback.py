"""Does the client serve its fallback while the dependency is down?"""

from __future__ import annotations

from .calls import Call, CallOutcome, positive, timed_call


def assert_fallback(call: Call, expected: object, *, within: float = 5.0) -> CallOutcome:
    """During an outage `call` must return `expected` (not raise), within `within` seconds."""
    within = positive("within", within)
    outcome = timed_call(call, wait_up_to=within)
    if outcome.duration is None:
        raise AssertionError(f"no fallback: expected {expected!r} within {within:.2f} s during the outage; the call was still running")
    if outcome.error is not None:
        raise AssertionError(f"no fallback: expected {expected!r} during the outage; the call {outcome.describe()}")
    if outcome.value != expected:
        raise AssertionError(f"wrong fallback: expected {expected!r} during the outage; the call {outcome.describe()}")
    return outcome
