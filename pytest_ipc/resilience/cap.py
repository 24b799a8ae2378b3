"""Does the client cap its concurrent requests (a bulkhead), failing the excess fast?"""

from __future__ import annotations

from ..stub import HttpStub
from .calls import Call, CallOutcome, positive, timed_calls_concurrently


def assert_request_cap(
    stub: HttpStub, limit: int, *, call: Call | None = None, concurrency: int | None = None, fail_fast: float = 0.05, call_timeout: float = 5.0
) -> list[CallOutcome]:
    """At most `limit` requests were ever in flight at the stub (since its last reset).

    With `call`, first start `concurrency` (default 3 x `limit`) calls at once against a slow stub
    (give it latency well above `fail_fast`): the excess calls (all but `limit`) must each fail fast,
    not queue. Returns the outcomes, fastest first.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    outcomes: list[CallOutcome] = []
    excess = reached = 0
    if call is not None:
        count = 3 * limit if concurrency is None else concurrency
        if isinstance(count, bool) or not isinstance(count, int) or count <= limit:
            raise ValueError(f"concurrency must be an int above the limit ({limit}) to test the cap, got {count!r}")
        before = len(stub.calls())
        outcomes = timed_calls_concurrently(call, count, wait_up_to=positive("call_timeout", call_timeout))
        outcomes.sort(key=lambda outcome: float("inf") if outcome.duration is None else outcome.duration)
        reached = len(stub.calls()) - before
        excess = count - limit
    peak = stub.max_in_flight
    if peak > limit:
        raise AssertionError(f"request cap not honoured: expected at most {limit} request(s) in flight at the stub, measured {peak}")
    slow = [outcome for outcome in outcomes[:excess] if outcome.duration is None or outcome.duration >= positive("fail_fast", fail_fast)]
    if slow:
        listed = "\n".join(f"  the call {outcome.describe()}" for outcome in outcomes)
        raise AssertionError(
            f"excess calls did not fail fast: of {len(outcomes)} calls at once with a cap of {limit}, the {excess} fastest "
            f"were expected to end within {fail_fast:.3f} s; {len(slow)} took longer and {reached} reached the stub "
            f"(queued behind the cap, or no cap?):\n{listed}"
        )
    return outcomes
