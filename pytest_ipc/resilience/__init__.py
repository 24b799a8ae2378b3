"""Library-agnostic resilience assertions, measured from the outside: clocks and the stub's journal.

They judge what a client *does* (how long a call takes, which requests reach the dependency, how
many at once), so the same assertion holds for tenacity or stamina, pybreaker or a hand-written
breaker, httpx, requests or aiohttp, and for gRPC clients against `grpc_stub` (the journal protocol
is `pytest_ipc._observed`). gRPC adds deadlines (`deadlines`) and which codes are retried
(`retry_codes`); a service of many instances (a `StubGroup`) adds spread, routing around a failing
instance, ejection, per-instance limits and DNS re-resolution (`instances`). Each injects the faults
it needs into the stub itself, and each failure says what was expected, what was measured and what
to change. The async forms, with the same names, are in `pytest_ipc.resilience.aio`.
"""

from pytest_ipc.resilience import aio
from pytest_ipc.resilience.adapters import STATES, BreakerStates, watch_circuitbreaker, watch_purgatory, watch_pybreaker
from pytest_ipc.resilience.breaker import assert_breaker
from pytest_ipc.resilience.calls import CallOutcome, ResilienceUsageError
from pytest_ipc.resilience.cap import assert_request_cap, peak_in_flight
from pytest_ipc.resilience.deadlines import assert_deadline_honoured, assert_deadline_propagated, assert_deadline_set
from pytest_ipc.resilience.fallback import assert_fallback
from pytest_ipc.resilience.instances import (
    assert_instance_cap,
    assert_outlier_ejected,
    assert_reresolves,
    assert_routes_around,
    assert_spread,
)
from pytest_ipc.resilience.retries import assert_retries, assert_retry_jitter, constant, exponential, pauses
from pytest_ipc.resilience.retry_codes import assert_retry_codes
from pytest_ipc.resilience.timeouts import assert_timeout_honoured
from pytest_ipc.resilience.tokens import (
    assert_forbidden_not_retried,
    assert_least_scopes,
    assert_reauthenticates_once,
    assert_token_refreshed,
)

__all__ = [
    "STATES",
    "BreakerStates",
    "CallOutcome",
    "ResilienceUsageError",
    "aio",
    "assert_breaker",
    "assert_deadline_honoured",
    "assert_deadline_propagated",
    "assert_deadline_set",
    "assert_fallback",
    "assert_forbidden_not_retried",
    "assert_instance_cap",
    "assert_least_scopes",
    "assert_outlier_ejected",
    "assert_reauthenticates_once",
    "assert_request_cap",
    "assert_reresolves",
    "assert_retries",
    "assert_retry_codes",
    "assert_retry_jitter",
    "assert_routes_around",
    "assert_spread",
    "assert_timeout_honoured",
    "assert_token_refreshed",
    "constant",
    "exponential",
    "pauses",
    "peak_in_flight",
    "watch_circuitbreaker",
    "watch_purgatory",
    "watch_pybreaker",
]
