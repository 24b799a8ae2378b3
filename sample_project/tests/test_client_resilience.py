"""The shop's orders client against a stubbed orders API: each resilience feature, measured.

Every test records how the call ended in the session's resilience report (`ipc_report`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import pybreaker
import pytest
from shop.client import OrdersUnavailable, TooBusy

from pytest_ipc import faults
from pytest_ipc.report import Outcome, ReportHandle
from pytest_ipc.resilience import (
    assert_breaker,
    assert_fallback,
    assert_request_cap,
    assert_retries,
    assert_timeout_honoured,
    exponential,
    watch_pybreaker,
)
from pytest_ipc.stub import HttpStub

from .conftest import ClientFactory
from .orders_stub import (
    ORDER,
    ORDER_ID,
    ORDER_V2,
    order_route,
    serve_order,
    token_route,
)

T = TypeVar("T")
DEPENDENCY = "orders-api (stub)"


class NoBreaker:
    """Calls straight through, in place of a pybreaker.CircuitBreaker (which serialises calls)."""

    def call(self, function: Callable[..., T], *args: object) -> T:
        return function(*args)


def test_retries_with_backoff_recover_from_503s(http_stub: HttpStub, make_client: ClientFactory, ipc_report: ReportHandle) -> None:
    route = order_route(http_stub).fail_first(2, status=503).then_respond(json=ORDER_V2)
    client = make_client(http_stub.url, attempts=3, backoff_s=0.05)
    with ipc_report.measure(DEPENDENCY, "fail-first-2x503") as attempt:
        assert client.get_order(ORDER_ID) == ORDER
        attempt.outcome = Outcome.RECOVERED
    # waits of 0.05 then 0.1 s, plus up to 0.05 s of jitter each (and a busy machine's scheduling)
    assert_retries(http_stub.calls(route), retries=2, backoff=exponential(0.05, 2.0), tolerance=0.3)


def test_token_is_refreshed_once_on_401(http_stub: HttpStub, make_client: ClientFactory) -> None:
    token_route(http_stub, "t-old", "t-new")
    route = http_stub.expect("GET", "/v2/orders/{order_id}", name="order")
    route.respond(status=401, json={"error": "token expired"}).then_respond(json=ORDER_V2)
    client = make_client(http_stub.url)
    assert client.get_order(ORDER_ID) == ORDER
    sent = [entry.headers["authorization"] for entry in http_stub.calls(route)]
    assert sent == ["Bearer t-old", "Bearer t-new"]
    assert client.token_refreshes == 1


def test_timeout_and_deadline_bound_a_hung_api(http_stub: HttpStub, make_client: ClientFactory, ipc_report: ReportHandle) -> None:
    serve_order(http_stub)
    client = make_client(http_stub.url, timeout_s=0.2, attempts=3, deadline_s=1.0)
    with faults.inject(faults.hang(), into=http_stub):
        outcome = assert_timeout_honoured(lambda: client.get_order(ORDER_ID), budget=1.0, stub=http_stub)
    assert isinstance(outcome.error, OrdersUnavailable)
    assert outcome.duration is not None and outcome.duration >= 0.2 * 3  # three attempts, each timed out
    ipc_report.record(DEPENDENCY, "hang", Outcome.TIMED_OUT, outcome.duration)


def test_circuit_breaker_opens_half_opens_and_closes(http_stub: HttpStub, make_client: ClientFactory) -> None:
    serve_order(http_stub)
    breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=0.5)
    client = make_client(http_stub.url, attempts=1, breaker=breaker)
    client.get_order(ORDER_ID)  # holds a token from now on: the probe's calls all go to the order route
    assert_breaker(lambda: client.get_order(ORDER_ID), http_stub, threshold=3, cool_down=0.5, route="order",
                   observer=watch_pybreaker(breaker))
    assert breaker.current_state == "closed"


def test_open_breaker_fails_fast_without_calling_the_api(
    http_stub: HttpStub, make_client: ClientFactory, ipc_report: ReportHandle
) -> None:
    route = serve_order(http_stub)
    client = make_client(http_stub.url, attempts=1, breaker=pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60))
    with faults.inject(faults.status(503), into=http_stub):
        for _ in range(2):
            with pytest.raises(OrdersUnavailable):
                client.get_order(ORDER_ID)
        calls_before = len(http_stub.calls(route))
        with pytest.raises(OrdersUnavailable, match="circuit open"), ipc_report.measure(DEPENDENCY, "breaker open") as attempt:
            attempt.outcome = Outcome.FAILED_FAST
            client.get_order(ORDER_ID)
    assert len(http_stub.calls(route)) == calls_before
    assert attempt.latency < 0.05


def test_cached_order_is_served_while_the_api_resets_connections(
    http_stub: HttpStub, make_client: ClientFactory, ipc_report: ReportHandle
) -> None:
    serve_order(http_stub)
    client = make_client(http_stub.url, attempts=2)
    assert client.get_order(ORDER_ID) == ORDER  # fresh, and now cached
    with faults.inject(faults.reset(), into=http_stub):
        outcome = assert_fallback(lambda: client.get_order(ORDER_ID), replace(ORDER, stale=True), within=2.0)
    assert outcome.duration is not None
    ipc_report.record(DEPENDENCY, "reset", Outcome.SERVED_FALLBACK, outcome.duration)


def test_requests_in_flight_are_capped_and_the_excess_fails_fast(
    http_stub: HttpStub, make_client: ClientFactory, ipc_report: ReportHandle
) -> None:
    order_route(http_stub).respond(json=ORDER_V2)
    # pybreaker holds its lock for the whole call, so behind it the two admitted calls would run one
    # at a time (assert_request_cap reports that as a serialised cap); this test is about the cap.
    client = make_client(http_stub.url, max_in_flight=2, queue_timeout_s=0.01, cache_ttl_s=0, breaker=NoBreaker())  # no fallback
    client.get_order(ORDER_ID)  # fetch the token first, so the burst below is only order calls
    outcomes = assert_request_cap(http_stub, limit=2, call=lambda: client.get_order(ORDER_ID), concurrency=6,
                                  fail_fast=0.1, hold=0.4)
    excess = [outcome for outcome in outcomes if isinstance(outcome.error, TooBusy)]
    assert len(excess) == 4
    for outcome in excess:
        assert outcome.duration is not None
        ipc_report.record(DEPENDENCY, "request cap", Outcome.FAILED_FAST, outcome.duration)
