"""The async forms of the resilience assertions: the same names, awaited on the test's own loop.

    from pytest_ipc.resilience import aio

    async def test_timeout(http_stub):
        async with httpx.AsyncClient(timeout=0.3) as client:
            with faults.inject(faults.hang(), into=http_stub):
                await aio.assert_timeout_honoured(lambda: client.get(http_stub.url_for("/price")), budget=0.3)

The calls run as tasks on the running loop (pytest-asyncio or anyio), so a client created in the
test works; calls still running when the assertion stops waiting are cancelled. The probes are the
sync forms' own (`pytest_ipc.resilience.calls`), so both judge alike. `assert_retries` reads the
journal only and has no async form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc.resilience.adapters import BreakerStates
from pytest_ipc.resilience.breaker import breaker_probe
from pytest_ipc.resilience.calls import AsyncCall, CallOutcome, drive_async, positive
from pytest_ipc.resilience.cap import cap_probe
from pytest_ipc.resilience.deadlines import DEADLINE_SLACK, deadline_probe, propagation_probe
from pytest_ipc.resilience.fallback import Degraded, fallback_probe
from pytest_ipc.resilience.instances import ejection_probe, instance_cap_probe, reresolve_probe, spread_probe
from pytest_ipc.resilience.retries import Backoff, jitter_probe
from pytest_ipc.resilience.retry_codes import retry_codes_probe
from pytest_ipc.resilience.timeouts import timeout_probe
from pytest_ipc.resilience.tokens import forbidden_probe, privilege_probe, reauthentication_probe, refresh_probe
from pytest_ipc.stub.tokens import IssuedToken, scope_set

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pytest_ipc._observed import ObservedStub
    from pytest_ipc.rpc import RpcStub
    from pytest_ipc.stub import JournalEntry, Route
    from pytest_ipc.stub.group import StubGroup

__all__ = [
    "assert_breaker",
    "assert_deadline_honoured",
    "assert_deadline_propagated",
    "assert_fallback",
    "assert_forbidden_not_retried",
    "assert_instance_cap",
    "assert_least_scopes",
    "assert_outlier_ejected",
    "assert_reauthenticates_once",
    "assert_request_cap",
    "assert_reresolves",
    "assert_retry_codes",
    "assert_retry_jitter",
    "assert_routes_around",
    "assert_spread",
    "assert_timeout_honoured",
    "assert_token_refreshed",
]


async def assert_timeout_honoured(call: AsyncCall, budget: float, *, slack: float = 0.3, stub: ObservedStub | None = None) -> CallOutcome:
    """Async form of `pytest_ipc.resilience.assert_timeout_honoured`."""
    return await drive_async(call, timeout_probe(budget, slack, stub))


async def assert_fallback(call: AsyncCall, expected: object, *, within: float = 5.0, degraded: Degraded | None = None) -> CallOutcome:
    """Async form of `pytest_ipc.resilience.assert_fallback`."""
    return await drive_async(call, fallback_probe(expected, within, degraded))


async def assert_request_cap(
    stub: ObservedStub,
    limit: int,
    *,
    call: AsyncCall,
    concurrency: int | None = None,
    fail_fast: float = 0.05,
    hold: float = 0.3,
    call_timeout: float = 5.0,
) -> list[CallOutcome]:
    """Async form of `pytest_ipc.resilience.assert_request_cap`."""
    return await drive_async(call, cap_probe(stub, limit, concurrency, fail_fast, hold, call_timeout))


async def assert_breaker(
    call: AsyncCall,
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
    """Async form of `pytest_ipc.resilience.assert_breaker`."""
    return await drive_async(
        call,
        breaker_probe(
            stub, threshold=threshold, cool_down=cool_down, failure=failure or faults.status(503), not_counted=not_counted,
            route=route, fail_fast=fail_fast, calls_while_open=calls_while_open, concurrent=concurrent, hold=hold,
            call_timeout=call_timeout, observer=observer,
        ),
        fault=failure or faults.status(503),
    )  # fmt: skip


async def assert_retry_jitter(
    call: AsyncCall,
    stub: ObservedStub,
    *,
    clients: int = 10,
    window: float = 0.01,
    failure: faults.Fault | None = None,
    most: int | None = None,
    call_timeout: float = 5.0,
) -> list[float]:
    """Async form of `pytest_ipc.resilience.assert_retry_jitter`."""
    failure = failure or faults.status(503)
    return await drive_async(call, jitter_probe(stub, clients, window, failure, most, call_timeout), fault=failure)


async def assert_deadline_honoured(call: AsyncCall, stub: RpcStub, budget: float, *, slack: float = 0.3) -> CallOutcome:
    """Async form of `pytest_ipc.resilience.assert_deadline_honoured`."""
    return await drive_async(call, deadline_probe(stub, budget, slack))


async def assert_deadline_propagated(
    call: AsyncCall, downstream: RpcStub, *, budget: float, slack: float = DEADLINE_SLACK
) -> CallOutcome:
    """Async form of `pytest_ipc.resilience.assert_deadline_propagated`."""
    return await drive_async(call, propagation_probe(downstream, budget, slack))


async def assert_retry_codes(
    call: AsyncCall,
    stub: RpcStub,
    *,
    retryable: Sequence[str] = ("UNAVAILABLE",),
    not_retryable: Sequence[str] = ("INVALID_ARGUMENT",),
    retries: int | None = None,
    backoff: Backoff | None = None,
    tolerance: float = 0.15,
    call_timeout: float = 5.0,
) -> dict[str, int]:
    """Async form of `pytest_ipc.resilience.assert_retry_codes`."""
    return await drive_async(call, retry_codes_probe(stub, retryable, not_retryable, retries, backoff, tolerance, call_timeout))


async def assert_token_refreshed(
    call: AsyncCall, route: Route, *, lifetime: float = 0.3, proactive: bool = True, call_timeout: float = 5.0
) -> list[IssuedToken]:
    """Async form of `pytest_ipc.resilience.assert_token_refreshed`."""
    return await drive_async(call, refresh_probe(route, lifetime, proactive, call_timeout))


async def assert_reauthenticates_once(call: AsyncCall, route: Route, *, call_timeout: float = 5.0) -> list[JournalEntry]:
    """Async form of `pytest_ipc.resilience.assert_reauthenticates_once`."""
    return await drive_async(call, reauthentication_probe(route, call_timeout))


async def assert_forbidden_not_retried(call: AsyncCall, route: Route, *, call_timeout: float = 5.0) -> list[JournalEntry]:
    """Async form of `pytest_ipc.resilience.assert_forbidden_not_retried`."""
    return await drive_async(call, forbidden_probe(route, call_timeout))


async def assert_least_scopes(
    call: AsyncCall, route: Route, *, allowed: str | Iterable[str] = (), call_timeout: float = 5.0
) -> list[JournalEntry]:
    """Async form of `pytest_ipc.resilience.assert_least_scopes`."""
    return await drive_async(call, privilege_probe(route, scope_set(allowed), call_timeout))


async def assert_spread(
    group: StubGroup, *, call: AsyncCall, calls: int = 30, max_share: float | None = None, call_timeout: float = 5.0
) -> list[int]:
    """Async form of `pytest_ipc.resilience.assert_spread`."""
    return await drive_async(call, spread_probe(group, calls, max_share, call_timeout))


async def assert_routes_around(
    group: StubGroup,
    failing: int = 0,
    *,
    call: AsyncCall,
    calls: int = 20,
    failure: faults.Fault | None = None,
    tolerance: int = 0,
    call_timeout: float = 5.0,
) -> list[int]:
    """Async form of `pytest_ipc.resilience.assert_routes_around`."""
    probe = ejection_probe(
        group, failing, calls=calls, failure=failure or faults.status(503), tolerance=tolerance, cool_down=None, call_timeout=call_timeout
    )
    return await drive_async(call, probe)


async def assert_outlier_ejected(
    group: StubGroup,
    outlier: int = 0,
    *,
    call: AsyncCall,
    cool_down: float,
    calls: int = 20,
    failure: faults.Fault | None = None,
    tolerance: int = 0,
    call_timeout: float = 5.0,
) -> list[int]:
    """Async form of `pytest_ipc.resilience.assert_outlier_ejected`."""
    probe = ejection_probe(
        group, outlier, calls=calls, failure=failure or faults.status(503), tolerance=tolerance, cool_down=positive("cool_down", cool_down),
        call_timeout=call_timeout,
    )
    return await drive_async(call, probe)


async def assert_instance_cap(
    group: StubGroup, limit: int, *, call: AsyncCall, concurrency: int | None = None, hold: float = 0.3, call_timeout: float = 5.0
) -> list[int]:
    """Async form of `pytest_ipc.resilience.assert_instance_cap`."""
    return await drive_async(call, instance_cap_probe(group, limit, concurrency, hold, call_timeout))


async def assert_reresolves(group: StubGroup, *, call: AsyncCall, calls: int = 6, drop: int = 1, call_timeout: float = 5.0) -> list[int]:
    """Async form of `pytest_ipc.resilience.assert_reresolves`."""
    return await drive_async(call, reresolve_probe(group, calls, drop, call_timeout))
