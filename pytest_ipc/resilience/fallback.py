"""Does the client serve its fallback while the dependency is down, and mark it as degraded?

A fallback that looks exactly like a fresh answer hides the outage from every caller (a cached price
shown as current, a default treated as real). When the client marks degraded answers (a `stale`
flag, a header, a wrapper type), pass `degraded=` a predicate that reads the mark: an answer served
during the outage without it fails as an *unmarked fallback*.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, drive, positive

Degraded = Callable[[object], bool]


def fallback_probe(expected: object, within: float, degraded: Degraded | None) -> Probe[CallOutcome]:
    within = positive("within", within)
    outcome: CallOutcome = (yield Calls(1, within))[0]
    if outcome.duration is None:
        raise IpcAssertionError(f"no fallback: expected {expected!r} within {within:.2f} s during the outage; the call was still running")
    if outcome.error is not None:
        raise IpcAssertionError(f"no fallback: expected {expected!r} during the outage; the call {outcome.describe()}")
    if degraded is not None and not degraded(outcome.value):
        raise IpcAssertionError(
            f"unmarked fallback: the call served {outcome.value!r} during the outage, but `degraded` finds no mark on it: "
            "callers cannot tell a fallback from a fresh answer; mark it (a stale flag, a header, a type)"
        )
    if outcome.value != expected:
        raise IpcAssertionError(f"wrong fallback: expected {expected!r} during the outage; the call {outcome.describe()}")
    return outcome


def assert_fallback(call: Call, expected: object, *, within: float = 5.0, degraded: Degraded | None = None) -> CallOutcome:
    """During an outage `call` must return `expected` (not raise) within `within` seconds; with
    `degraded`, the answer must also carry the client's degraded mark (``degraded(answer)`` true)."""
    return drive(call, fallback_probe(expected, within, degraded))
