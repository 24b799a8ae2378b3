"""Every injected fault proves it fired: a fault that never fired fails its block, naming the fault,
the layer and the likely cause, and never hides an error raised inside the block."""

from __future__ import annotations

import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.client import Proxy, UnsupportedByServer
from pytest_ipc.stub import HttpStub


@pytest.fixture
def price(http_stub: HttpStub) -> HttpStub:
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    return http_stub


@pytest.fixture
def proxy(toxiproxy, price: HttpStub) -> Proxy:  # type: ignore[no-untyped-def]
    created: Proxy = toxiproxy.create_proxy(upstream=f"{price.host}:{price.port}")
    return created


def test_a_requests_client_in_a_respx_block_is_caught(price: HttpStub) -> None:
    """Regression: respx intercepts httpx only, so the real stub answered 200 and the 'reset' passed."""
    never = pytest.raises(
        faults.FaultNeverFired,
        match=r"reset was injected at the respx layer and never fired.*respx only intercepts httpx; this call did not go "
        r"through httpx \(the stub saw 1 request\(s\) during the block\): use the stub or proxy layer",
    )
    with never, faults.inject(faults.reset(), into=faults.InProcess(price.url), upstream=price):
        assert requests.get(price.url_for("/price"), timeout=2).status_code == 200


def test_a_block_without_any_call_is_caught_at_each_layer(price: HttpStub, proxy: Proxy) -> None:
    with pytest.raises(
        faults.FaultNeverFired, match=r"no request to http://.* was made during the block: did the client call ipc_target_url\?"
    ):
        with faults.inject(faults.reset(), into=faults.InProcess(price.url), upstream=price):
            pass
    with pytest.raises(
        faults.FaultNeverFired,
        match=r"the client called another URL, or not through httpx \(respx only intercepts httpx; pass upstream=http_stub",
    ):
        with faults.inject(faults.reset(), into=faults.InProcess(price.url)):
            requests.get(price.url_for("/price"), timeout=2)
    with pytest.raises(
        faults.FaultNeverFired, match=r"hang was injected at the stub layer and never fired.*the stub saw no request during the block"
    ):
        with faults.inject(faults.hang(), into=price):
            pass
    with pytest.raises(
        faults.FaultNeverFired,
        match=r"status-503 \(probability=0.0\).*the stub saw 2 request\(s\) and the fault's firing rules let every one through",
    ):
        with faults.inject(faults.status(503, probability=0.0), into=price):
            httpx.get(price.url_for("/price"))
            httpx.get(price.url_for("/price"))


def test_a_client_calling_the_stub_around_the_proxy_is_caught(price: HttpStub, proxy: Proxy) -> None:
    """Regression: the test called the stub directly instead of the proxy; the proxy counted 0 connections."""
    never = pytest.raises(
        faults.FaultNeverFired,
        match=r"latency-200ms was injected at the proxy layer and never fired.*the client never connected through the proxy "
        r"— did it use ipc_target_url \(here http://.*\)\? \(the stub behind it saw 1 request\(s\) in this test: the client "
        r"reached it some other way\)",
    )
    with never, faults.inject(faults.latency(0.2), into=proxy, upstream=price):
        httpx.get(price.url_for("/price"), timeout=2)
    with faults.inject(faults.latency(0.05), into=proxy, upstream=price) as active:  # through the proxy: proven
        httpx.get(proxy.url + "/price", timeout=2)
    assert active.activations() == 1


def test_opting_out_and_errors_inside_the_block(price: HttpStub) -> None:
    with faults.inject(faults.hang(), into=price, must_fire=False) as active:
        pass  # the point of this block: the dependency is never reached
    assert active.activations() == 0
    with pytest.raises(ZeroDivisionError):  # the block's own error, not FaultNeverFired
        with faults.inject(faults.hang(), into=price):
            1 / 0  # noqa: B018
    assert price.faults == []


def test_a_proxy_without_counters_is_not_failed_falsely(price: HttpStub, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_counters() -> None:
        raise UnsupportedByServer("404 page not found", 404)

    monkeypatch.setattr(proxy, "counters", no_counters)
    with pytest.warns(faults.FaultProofUnavailable, match=r"this Toxiproxy server has no counters"):
        with faults.inject(faults.latency(0.05), into=proxy) as active:
            pass  # never fired, but nothing can tell: no false failure
    assert active.activations() is None


def test_a_proxy_outage_is_proven_by_a_connection_before_or_after_it(price: HttpStub, proxy: Proxy) -> None:
    httpx.get(proxy.url + "/price", timeout=2)  # the client uses the proxy
    with faults.inject(faults.outage(), into=proxy) as active, pytest.raises(httpx.ConnectError):
        httpx.get(proxy.url + "/price", timeout=2)
    assert active.activations() == 1
