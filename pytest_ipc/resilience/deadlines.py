"""Does an RPC client send a deadline, keep to it, and does a service pass what is left of it on?

Read from the RPC stub's journal: each call records the time its client had left when it arrived
(`RpcCall.deadline`, None when none was sent) and when that expires (`deadline_at`). A client-side
timer that abandons the call without sending a deadline is caught: the server, and everything it
calls, would work on for nothing. `slack` absorbs the clocks' difference (grpcio derives the time
left from the wall clock) and transport time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, drive, positive
from pytest_ipc.resilience.timeouts import patience, within_budget

if TYPE_CHECKING:
    from pytest_ipc.rpc import RpcCall, RpcStub

DEADLINE_SLACK = 0.05  # seconds


def _new(stub: RpcStub, known: set[int]) -> list[RpcCall]:
    return [entry for entry in stub.calls() if id(entry) not in known]


def assert_deadline_set(calls: Sequence[RpcCall], budget: float, *, slack: float = DEADLINE_SLACK) -> list[float]:
    """Every call in `calls` (e.g. ``grpc_stub.calls(route)``) carried a deadline of at most `budget`
    (+ `slack`) seconds. Returns the deadlines as they arrived."""
    budget, slack = positive("budget", budget), positive("slack", slack)
    if not calls:
        raise IpcAssertionError(f"expected calls carrying a deadline of at most {budget:.2f} s; the stub saw no call")
    missing = [entry for entry in calls if entry.deadline is None]
    if missing:
        raise IpcAssertionError(
            f"no deadline: {len(missing)} of {len(calls)} call(s) arrived without one ({missing[0].describe()}); a call "
            f"without a deadline may wait forever and keeps the server working after the client gave up: pass "
            f"timeout= (at most {budget:.2f} s) on every call"
        )
    late = [entry for entry in calls if entry.deadline is not None and entry.deadline > budget + slack]
    if late:
        worst = max(entry.deadline or 0.0 for entry in late)
        raise IpcAssertionError(
            f"deadline too long: expected at most {budget:.2f} s (+{slack:.2f} s slack), {len(late)} of {len(calls)} "
            f"call(s) carried more, up to {worst:.2f} s ({late[0].describe()}): lower the call's timeout="
        )
    return [entry.deadline for entry in calls if entry.deadline is not None]


def deadline_probe(stub: RpcStub, budget: float, slack: float) -> Probe[CallOutcome]:
    budget, slack = positive("budget", budget), positive("slack", slack)
    known = {id(entry) for entry in stub.calls()}
    with faults.inject(faults.hang(), into=stub, must_fire=False):
        outcome: CallOutcome = (yield Calls(1, patience(budget, slack)))[0]
    seen = _new(stub, known)
    if not seen:
        raise IpcAssertionError(f"the stub saw no call (the call {outcome.describe()}): did the client connect to {stub.target}?")
    assert_deadline_set(seen, budget, slack=DEADLINE_SLACK)
    return within_budget(outcome, budget, slack, stub, "deadline", "end")


def assert_deadline_honoured(call: Call, stub: RpcStub, budget: float, *, slack: float = 0.3) -> CallOutcome:
    """With `stub` holding every call, `call` must send a deadline of at most `budget` seconds and end
    within `budget` + `slack` (retries included). Returns the outcome (usually DEADLINE_EXCEEDED)."""
    return drive(call, deadline_probe(stub, budget, slack))


def propagation_probe(downstream: RpcStub, budget: float, slack: float) -> Probe[CallOutcome]:
    budget, slack = positive("budget", budget), positive("slack", slack)
    known = {id(entry) for entry in downstream.calls()}
    outcome: CallOutcome = (yield Calls(1, budget + 1.0))[0]
    seen = _new(downstream, known)
    if not seen:
        raise IpcAssertionError(
            f"the downstream stub saw no call while the service answered (the call {outcome.describe()}): did the service "
            f"call {downstream.target}?"
        )
    expires = outcome.started + budget
    for entry in seen:
        if entry.deadline_at is None:
            raise IpcAssertionError(
                f"deadline not propagated: the upstream call had {budget:.2f} s, the downstream call {entry.method} carried "
                "no deadline: the service works on after its caller gave up; pass what is left (context.time_remaining()) "
                "as the downstream call's timeout="
            )
        if entry.deadline_at > expires + slack:
            raise IpcAssertionError(
                f"deadline not propagated: the downstream call {entry.method} carried {entry.deadline:.2f} s and expires "
                f"{entry.deadline_at - expires:.2f} s after the upstream call's deadline ({budget:.2f} s; allowed "
                f"{slack:.2f} s slack): the service sets a timeout of its own; pass what is left "
                "(context.time_remaining()) as the downstream timeout="
            )
    return outcome


def assert_deadline_propagated(call: Call, downstream: RpcStub, *, budget: float, slack: float = DEADLINE_SLACK) -> CallOutcome:
    """`call` calls the service under test with a deadline of `budget` seconds; every call the service
    made meanwhile to `downstream` must carry a deadline expiring no later than the upstream one
    (+ `slack`). Returns the upstream call's outcome."""
    return drive(call, propagation_probe(downstream, budget, slack))
