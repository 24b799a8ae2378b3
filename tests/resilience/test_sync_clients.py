"""Sync clients (httpx + pybreaker, requests + circuitbreaker; tenacity, timeout, fallback, cap)
against every assertion; a client missing one property fails that one, clearly. Two library
behaviours show up as real defects: pybreaker holds its lock for the whole call, so the httpx
client's capped calls run one at a time (a serialised cap), and circuitbreaker lets every call
through once the cool-down is over (no single half-open trial)."""

from __future__ import annotations

import pytest

from pytest_ipc import faults
from pytest_ipc.resilience import (
    assert_breaker,
    assert_fallback,
    assert_request_cap,
    assert_retries,
    assert_timeout_honoured,
    exponential,
    watch_circuitbreaker,
    watch_pybreaker,
)
from pytest_ipc.stub import HttpStub, Route
from tests.resilience.clients import FALLBACK, NEVER, NONE, Policy
from tests.resilience.conftest import PRICE, MakeClient

ONE_ATTEMPT = Policy(attempts=1)


def test_timeout_is_honoured_while_the_stub_hangs(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    client = make_client(ONE_ATTEMPT)
    with faults.inject(faults.hang(), into=http_stub):
        outcome = assert_timeout_honoured(client.price, budget=0.3, stub=http_stub)
    assert outcome.value == FALLBACK
    assert outcome.duration is not None and outcome.duration >= 0.25  # it did wait for its timeout


def test_a_client_without_timeout_is_caught(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    client = make_client(Policy(timeout=None, attempts=1))
    caught = pytest.raises(
        AssertionError,
        match=r"(?s)expected the call to return or raise within 0\.30 s .*one request, held .* while the client waited: it sets no timeout",
    )
    with faults.inject(faults.hang(), into=http_stub), caught:
        assert_timeout_honoured(client.price, budget=0.3, slack=0.2, stub=http_stub)
    # teardown cancels the hung request; the client thread then ends on its own


def test_retries_back_off_exponentially(http_stub: HttpStub, make_client: MakeClient) -> None:
    route = http_stub.expect("GET", "/price").fail_first(2).then_respond(json={"eur": PRICE})
    assert make_client(Policy(backoff=0.1)).price() == PRICE
    # late by up to 0.5 s: a loaded host (-n 4 on two cores) wakes a sleeping client 0.2 s late; a
    # pause cut short is still caught (a sleep cannot end early)
    assert_retries(http_stub.calls(route), retries=2, backoff=exponential(0.1, 2), tolerance=0.5)


def test_missing_retries_and_wrong_backoff_are_caught(http_stub: HttpStub, make_client: MakeClient) -> None:
    route = http_stub.expect("GET", "/price").fail_first(2).then_respond(json={"eur": PRICE})
    assert make_client(ONE_ATTEMPT).price() == FALLBACK
    with pytest.raises(AssertionError, match=r"expected 2 retries \(3 attempts\), the stub saw 1 attempt\(s\) of GET /price"):
        assert_retries(http_stub.calls(route), retries=2)

    assert make_client().price() == PRICE  # three more attempts: 503, then the answer
    with pytest.raises(AssertionError, match=r"retry 1: expected a pause of 0\.400 s, measured 0\.[0-2]\d\d s"):
        assert_retries(http_stub.calls(route)[1:], retries=1, backoff=[0.4], tolerance=0.1)


def test_pybreaker_opens_half_opens_and_closes(http_stub: HttpStub, price_route: Route, sync_client: MakeClient) -> None:
    client = sync_client("httpx")  # pybreaker: one trial in half-open, the other calls wait on its lock
    states = watch_pybreaker(client.breaker)
    transcript = assert_breaker(client.price, http_stub, threshold=3, cool_down=0.3, fail_fast=0.1, observer=states)
    assert len(transcript) == 3 + 3 + 5 + 3 + 1 + 3
    states.assert_states("open", "half-open", "open", "half-open", "closed")
    assert client.price() == PRICE


def test_circuitbreaker_lets_every_concurrent_call_through_in_half_open(
    http_stub: HttpStub, price_route: Route, sync_client: MakeClient
) -> None:
    client = sync_client("requests")
    caught = pytest.raises(
        AssertionError,
        match=r"breaker lets every concurrent call through in half-open \(phase 'half-open \(5 calls at once, stub still failing\)'\): "
        r"[2-5] of 5 calls reached the stub at once",
    )
    with caught:
        assert_breaker(client.price, http_stub, threshold=3, cool_down=0.3, fail_fast=0.1, observer=watch_circuitbreaker(client.breaker))


def test_a_breaker_that_never_opens_is_caught(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    client = make_client(Policy(threshold=NEVER, attempts=1))
    caught = pytest.raises(
        AssertionError,
        match=r"breaker did not open after 3 failing calls \(call 4\) \(phase 'open'\): expected the call to fail fast .* "
        r"it made 1 request\(s\) at the stub",
    )
    with caught:
        assert_breaker(client.price, http_stub, threshold=3, cool_down=0.3)


def test_fallback_is_served_during_an_outage(toxiproxy, http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:  # type: ignore[no-untyped-def]
    proxy = toxiproxy.create_proxy(upstream=f"{http_stub.host}:{http_stub.port}")
    client, fragile = make_client(base_url=proxy.url), make_client(Policy(fallback=NONE), base_url=proxy.url)
    assert client.price() == PRICE  # through the proxy while it is up
    with faults.inject(faults.outage(), into=proxy):
        assert_fallback(client.price, FALLBACK)
        with pytest.raises(
            AssertionError,
            match=r"no fallback: expected -1\.0 during the outage; the call raised .*UpstreamError: (ConnectionError|ConnectError)",
        ):
            assert_fallback(fragile.price, FALLBACK)


# pybreaker holds a lock around every call, so the httpx client's admitted calls run one at a time;
# the requests client's breaker (circuitbreaker) has no lock.
CAP = {
    "httpx": r"request cap serialised: expected exactly 2 request\(s\) in flight at the peak .*, measured at most 1 at once",
    "requests": None,
}
MISSING_CAP = {
    "httpx": r"request cap serialised: expected exactly 2 request\(s\) in flight at the peak",
    "requests": r"request cap exceeded: expected at most 2 request\(s\) in flight at the stub, measured \d+",
}


def test_request_cap_runs_the_admitted_calls_together_and_fails_the_excess_fast(
    http_stub: HttpStub, price_route: Route, make_client: MakeClient, library: str
) -> None:
    if CAP[library] is not None:
        with pytest.raises(AssertionError, match=CAP[library]):
            assert_request_cap(http_stub, 2, call=make_client().price, concurrency=6, fail_fast=0.1, hold=0.2)
        return
    outcomes = assert_request_cap(http_stub, 2, call=make_client().price, concurrency=6, fail_fast=0.1, hold=0.2)
    assert [outcome.value for outcome in outcomes].count(PRICE) == 2  # the two admitted calls got the answer


def test_a_missing_cap_is_caught(http_stub: HttpStub, price_route: Route, make_client: MakeClient, library: str) -> None:
    with pytest.raises(AssertionError, match=MISSING_CAP[library]):
        assert_request_cap(http_stub, 2, call=make_client(Policy(cap=None)).price, concurrency=6, fail_fast=0.1, hold=0.2)
