"""httpx.AsyncClient + tenacity + purgatory: the same assertions hold for an async client (the
assertions run each `async def` call on an event loop of their own, concurrent calls on one loop)."""

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
    watch_purgatory,
)
from pytest_ipc.stub import HttpStub, Route
from tests.resilience.clients import FALLBACK, NEVER, NONE, AsyncPriceClient, Policy
from tests.resilience.conftest import PRICE


def test_timeout_and_fallback_while_the_stub_hangs(http_stub: HttpStub, price_route: Route) -> None:
    client, fragile = AsyncPriceClient(http_stub.url, Policy(attempts=1)), AsyncPriceClient(http_stub.url, Policy(attempts=1, timeout=None))
    with faults.inject(faults.hang(), into=http_stub):
        assert assert_timeout_honoured(client.price, budget=0.3, stub=http_stub).value == FALLBACK
        with pytest.raises(AssertionError, match=r"timeout not honoured: .*measured more than .* s \(still waiting\)"):
            assert_timeout_honoured(fragile.price, budget=0.3, slack=0.2, stub=http_stub)


def test_retries_back_off(http_stub: HttpStub) -> None:
    route = http_stub.expect("GET", "/price").fail_first(2).then_respond(json={"eur": PRICE})
    assert assert_fallback(AsyncPriceClient(http_stub.url, Policy(backoff=0.1)).price, PRICE).value == PRICE  # retries win
    assert_retries(http_stub.calls(route), retries=2, backoff=exponential(0.1, 2), tolerance=0.5)  # a loaded host wakes sleepers late


def test_purgatory_lets_every_concurrent_call_through_in_half_open(http_stub: HttpStub, price_route: Route) -> None:
    """purgatory's half-opened state admits every new request until one of them fails."""
    client = AsyncPriceClient(http_stub.url, Policy(attempts=1))
    states = watch_purgatory(client.breakers, AsyncPriceClient.CIRCUIT)
    with pytest.raises(
        AssertionError, match=r"breaker lets every concurrent call through in half-open .*: [2-5] of 5 calls reached the stub at once"
    ):
        assert_breaker(client.price, http_stub, threshold=3, cool_down=0.3, fail_fast=0.1, observer=states)
    assert states.states[:2] == ["open", "half-open"]


def test_a_breaker_that_never_opens_is_caught(http_stub: HttpStub, price_route: Route) -> None:
    client = AsyncPriceClient(http_stub.url, Policy(attempts=1, threshold=NEVER))
    with pytest.raises(AssertionError, match=r"breaker did not open after 2 failing calls \(call 3\)"):
        assert_breaker(client.price, http_stub, threshold=2, cool_down=0.3, calls_while_open=1)


def test_missing_fallback_is_caught(toxiproxy, http_stub: HttpStub, price_route: Route) -> None:  # type: ignore[no-untyped-def]
    proxy = toxiproxy.create_proxy(upstream=f"{http_stub.host}:{http_stub.port}")
    assert assert_fallback(AsyncPriceClient(proxy.url).price, PRICE).value == PRICE  # the client uses the proxy
    with faults.inject(faults.outage(), into=proxy):
        assert_fallback(AsyncPriceClient(proxy.url).price, FALLBACK)
        with pytest.raises(
            AssertionError, match=r"no fallback: expected -1\.0 during the outage; the call raised .*UpstreamError: ConnectError"
        ):
            assert_fallback(AsyncPriceClient(proxy.url, Policy(fallback=NONE)).price, FALLBACK)


def test_request_cap_on_one_event_loop(http_stub: HttpStub, price_route: Route) -> None:
    outcomes = assert_request_cap(http_stub, 2, call=AsyncPriceClient(http_stub.url).price, concurrency=6, fail_fast=0.1, hold=0.2)
    assert [outcome.value for outcome in outcomes].count(PRICE) == 2  # purgatory does not serialise calls
    with pytest.raises(AssertionError, match=r"request cap exceeded: .* measured [3-6]"):
        assert_request_cap(http_stub, 2, call=AsyncPriceClient(http_stub.url, Policy(cap=None)).price, concurrency=6, hold=0.2)
