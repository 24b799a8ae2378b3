"""Does an RPC client retry only what a retry can fix, and back off in between?

A status says whether trying again can help: UNAVAILABLE (the server is down or shedding load) may
pass, INVALID_ARGUMENT (the request itself is wrong) never will, so retrying it only adds load. The
probe makes the stub answer every call with each code in turn (`faults.grpc_status`) and counts the
attempts one call made: one for a code that must not be retried, more than one for a retryable code
(exactly `retries` + 1 when given, with the pauses `assert_retries` checks when `backoff` is given).
Retries by a service config (`grpc.service_config` channel option) or the client's own loop look the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, ResilienceUsageError, drive, positive
from pytest_ipc.resilience.retries import Backoff, assert_retries
from pytest_ipc.rpc.codes import check_code

if TYPE_CHECKING:
    from pytest_ipc.rpc import RpcStub


def _codes(name: str, codes: Sequence[str]) -> list[str]:
    if isinstance(codes, str):
        raise ResilienceUsageError(f"{name} takes a list of status names, e.g. [{codes!r}], got the string {codes!r}")
    checked = [check_code(code, f"{name}:") for code in codes]
    if "OK" in checked:
        raise ResilienceUsageError(f"{name}: OK is not a failure; list failing status names")
    return checked


def retry_codes_probe(
    stub: RpcStub, retryable: Sequence[str], not_retryable: Sequence[str], retries: int | None, backoff: Backoff | None,
    tolerance: float, call_timeout: float,
) -> Probe[dict[str, int]]:  # fmt: skip
    good, bad = _codes("retryable", retryable), _codes("not_retryable", not_retryable)
    if not good and not bad:
        raise ResilienceUsageError("give at least one code in retryable or not_retryable")
    call_timeout = positive("call_timeout", call_timeout)
    attempts: dict[str, int] = {}
    for code in [*bad, *good]:
        known = {id(entry) for entry in stub.calls()}
        with faults.inject(faults.grpc_status(code, details=f"pytest-ipc: {code}"), into=stub, must_fire=False):
            outcome: CallOutcome = (yield Calls(1, call_timeout))[0]
        seen = [entry for entry in stub.calls() if id(entry) not in known]
        attempts[code] = len(seen)
        if not seen:
            raise IpcAssertionError(
                f"the stub saw no call while it answered {code} (the call {outcome.describe()}): did the client call {stub.target}?"
            )
        if outcome.duration is None:
            raise IpcAssertionError(
                f"the call was still running {call_timeout:.2f} s (call_timeout) after the stub began answering {code}; "
                f"{len(seen)} attempt(s) so far: it retries without end? Bound the attempts and the whole call"
            )
        if code in bad and len(seen) > 1:
            raise IpcAssertionError(
                f"retries on {code}: expected one attempt (a retry cannot fix {code}, it only adds load), the stub saw "
                f"{len(seen)} attempts for one call; retry only on {', '.join(good) or 'transient codes such as UNAVAILABLE'}\n"
                + "\n".join(f"  {entry.describe()}" for entry in seen)
            )
        if code in good:
            if len(seen) == 1:
                raise IpcAssertionError(
                    f"no retry on {code}: expected the client to retry a call that failed with {code} (transient), the stub "
                    f"saw one attempt; the call {outcome.describe()}"
                )
            if retries is not None or backoff is not None:
                assert_retries(seen, retries=len(seen) - 1 if retries is None else retries, backoff=backoff, tolerance=tolerance)
    return attempts


def assert_retry_codes(
    call: Call,
    stub: RpcStub,
    *,
    retryable: Sequence[str] = ("UNAVAILABLE",),
    not_retryable: Sequence[str] = ("INVALID_ARGUMENT",),
    retries: int | None = None,
    backoff: Backoff | None = None,
    tolerance: float = 0.15,
    call_timeout: float = 5.0,
) -> dict[str, int]:
    """One call per code with the stub answering it: a `not_retryable` code gets one attempt, a
    `retryable` one more (`retries` + 1 when given; `backoff` as for `assert_retries`). Returns the
    attempts per code."""
    return drive(call, retry_codes_probe(stub, retryable, not_retryable, retries, backoff, tolerance, call_timeout))
