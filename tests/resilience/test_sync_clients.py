"""A resilient sync client (httpx + pybreaker, requests + circuitbreaker; tenacity, timeout,
fallback, cap) passes every assertion; a client missing one property fails that one, clearly."""

from __future__ import annotations

from contextlib import ExitStack

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

from .clients import FALLBACK, NEVER, NONE, Policy
from .conftest import PRICE, MakeClient

ONE_ATTEMPT = Policy(attempts=1)


def test_timeout_is_honoured_while_the_stub_hangs(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    client = make_client(ONE_ATTEMPT)
    with faults.inject(faults.hang(), into=http_stub):
        outcome = assert_timeout_honoured(client.price, budget=0.3, stub=http_stub)
    assert outcome.value == FALLBACK
    assert outcome.duration is not None and outcome.duration >= 0.25  # it did wait for its timeout


def test_a_client_without_timeout_is_caught(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    client = make_client(Policy(timeout=None, attempts=1))
    caught = pytest.raises(AssertionError, match=r"expected the call to return or raise within 0\.30 s .*the client waited for the stub")
    with faults.inject(faults.hang(), into=http_stub), caught:
        assert_timeout_honoured(client.price, budget=0.3, slack=0.2, stub=http_stub)
    # teardown cancels the hung request; the client thread then ends on its own


def test_retries_back_off_exponentially(http_stub: HttpStub, make_client: MakeClient) -> None:
    route = http_stub.expect("GET", "/price").fail_first(2).then_respond(json={"eur": PRICE})
    assert make_client(Policy(backoff=0.1)).price() == PRICE
    assert_retries(http_stub.calls(route), retries=2, backoff=exponential(0.1, 2), tolerance=0.15)


def test_missing_retries_and_wrong_backoff_are_caught(http_stub: HttpStub, make_client: MakeClient) -> None:
    route = http_stub.expect("GET", "/price").fail_first(2).then_respond(json={"eur": PRICE})
    assert make_client(ONE_ATTEMPT).price() == FALLBACK
    with pytest.raises(AssertionError, match=r"expected 2 retries \(3 attempts\), the stub saw 1 attempt"):
        assert_retries(http_stub.calls(route), retries=2)

    assert make_client().price() == PRICE  # three more attempts: 503, then the answer
    with pytest.raises(AssertionError, match=r"retry 1: expected a pause of 0\.400 s, measured 0\.0\d\d s"):
        assert_retries(http_stub.calls(route)[1:], retries=1, backoff=[0.4], tolerance=0.1)


def _watch(client: object, library: str):  # type: ignore[no-untyped-def]
    return watch_pybreaker(client.breaker) if library == "httpx" else watch_circuitbreaker(client.breaker)  # type: ignore[attr-defined]


def test_breaker_opens_half_opens_and_closes(http_stub: HttpStub, price_route: Route, make_client: MakeClient, library: str) -> None:
    client = make_client()
    states = _watch(client, library)
    with ExitStack() as failing:
        failing.enter_context(faults.inject(faults.status(503), into=http_stub))
        transcript = assert_breaker(client.price, http_stub, threshold=3, cool_down=0.3, heal=failing.close, fail_fast=0.1, observer=states)
    assert len(transcript) == 3 + 3 + 1 + 3 + 1 + 3
    states.assert_states("open", "half-open", "open", "half-open", "closed")
    assert client.price() == PRICE


def test_a_breaker_that_never_opens_is_caught(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    client = make_client(Policy(threshold=NEVER, attempts=1))
    caught = pytest.raises(AssertionError, match=r"breaker did not open after 3 failing calls \(call 4\): expected the call to fail fast .* it made 1 request\(s\) at the stub")
    with faults.inject(faults.status(503), into=http_stub), caught:
        assert_breaker(client.price, http_stub, threshold=3, cool_down=0.3, heal=lambda: None)


def test_fallback_is_served_during_an_outage(toxiproxy, http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:  # type: ignore[no-untyped-def]
    proxy = toxiproxy.create_proxy(upstream=f"{http_stub.host}:{http_stub.port}")
    client, fragile = make_client(base_url=proxy.url), make_client(Policy(fallback=NONE), base_url=proxy.url)
    assert client.price() == PRICE  # through the proxy while it is up
    with faults.inject(faults.outage(), into=proxy):
        assert_fallback(client.price, FALLBACK)
        with pytest.raises(AssertionError, match=r"no fallback: expected -1\.0 during the outage; the call raised .*UpstreamError: ConnectionError|no fallback: .*UpstreamError: ConnectError"):
            assert_fallback(fragile.price, FALLBACK)


def test_request_cap_fails_the_excess_fast(http_stub: HttpStub, price_route: Route, make_client: MakeClient) -> None:
    with faults.inject(faults.latency(0.2), into=http_stub):  # slow, yet within the client's timeout
        outcomes = assert_request_cap(http_stub, 2, call=make_client().price, concurrency=6, fail_fast=0.1)
    assert [outcome.value for outcome in outcomes].count(PRICE) == 2  # the two admitted calls got the answer


# pybreaker holds a lock around every call, so without a cap the httpx client's calls queue behind
# it one at a time (never more than 1 in flight); the requests client's breaker has no lock.
MISSING_CAP = {
    "httpx": r"excess calls did not fail fast: of 6 calls at once with a cap of 2, the 4 fastest were expected to end within 0\.100 s; 4 took longer",
    "requests": r"request cap not honoured: expected at most 2 request\(s\) in flight at the stub, measured 6",
}


def test_a_missing_cap_is_caught(http_stub: HttpStub, price_route: Route, make_client: MakeClient, library: str) -> None:
    with faults.inject(faults.latency(0.2), into=http_stub), pytest.raises(AssertionError, match=MISSING_CAP[library]):
        assert_request_cap(http_stub, 2, call=make_client(Policy(cap=None)).price, concurrency=6, fail_fast=0.1)
