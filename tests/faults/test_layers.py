"""Each layer really produces the fault: a real httpx client sees it, and it is gone after the block."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from pytest_ipc import faults
from pytest_ipc.client import Proxy
from pytest_ipc.stub import HttpStub

BODY = {"eur": 3.5}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5) as http:
        yield http


@pytest.fixture
def price(http_stub: HttpStub) -> HttpStub:
    http_stub.expect("GET", "/price").respond(json=BODY)
    return http_stub


@pytest.fixture
def proxy(toxiproxy, price: HttpStub) -> Proxy:  # type: ignore[no-untyped-def]
    created: Proxy = toxiproxy.create_proxy(upstream=f"{price.host}:{price.port}")
    return created


def timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response | Exception]:
    started = time.monotonic()
    try:
        outcome: httpx.Response | Exception = client.get(url)
    except httpx.HTTPError as error:
        outcome = error
    return time.monotonic() - started, outcome


STUB_ERRORS = [
    (faults.hang(), httpx.ReadTimeout),
    (faults.reset(), httpx.ReadError),
    (faults.malformed_response(), httpx.RemoteProtocolError),
    (faults.close_before_headers(), httpx.RemoteProtocolError),
    (faults.empty_response(), httpx.RemoteProtocolError),
    (faults.random_bytes(), httpx.RemoteProtocolError),
    (faults.truncated(30), httpx.RemoteProtocolError),
]


@pytest.mark.parametrize(("fault", "error"), STUB_ERRORS, ids=[fault.label for fault, _ in STUB_ERRORS])
def test_stub_layer_breaks_the_exchange(price: HttpStub, client: httpx.Client, fault: faults.Fault, error: type[Exception]) -> None:
    url = price.url_for("/price")
    with faults.inject(fault, into=price) as active:
        _, outcome = timed_get(client, url)
        assert isinstance(outcome, error), outcome
    assert active.activations() == 1
    assert client.get(url).json() == BODY  # removed after the block


def test_stub_layer_statuses_latency_and_dribble(price: HttpStub, client: httpx.Client) -> None:
    url = price.url_for("/price")
    with faults.inject(faults.status(503, retry_after=2, body="busy"), into=price):
        answer = client.get(url)
        assert (answer.status_code, answer.headers["retry-after"], answer.text) == (503, "2", "busy")
    with faults.inject(faults.fail_first(2, status=429), into=price):
        assert [client.get(url).status_code for _ in range(3)] == [429, 429, 200]
    with faults.inject(faults.latency(0.2), into=price):
        took, answer = timed_get(client, url)
        assert isinstance(answer, httpx.Response) and 0.19 <= took < 0.45
    with faults.inject(faults.dribble(0.2), into=price):
        took, answer = timed_get(client, url)
        assert isinstance(answer, httpx.Response) and answer.json() == BODY and 0.19 <= took < 0.45


def test_respx_layer_fakes_errors_in_process_and_passes_the_rest(price: HttpStub, client: httpx.Client, toxiproxy) -> None:  # type: ignore[no-untyped-def]
    url = price.url_for("/price")
    target = faults.InProcess(price.url)
    cases = [
        (faults.outage(), httpx.ConnectError), (faults.connect_timeout(), httpx.ConnectTimeout),
        (faults.read_timeout(), httpx.ReadTimeout), (faults.reset(), httpx.ReadError),
        (faults.close_before_headers(), httpx.RemoteProtocolError),
    ]  # fmt: skip
    for fault, error in cases:
        with faults.inject(fault, into=target):
            took, outcome = timed_get(client, url)
            assert isinstance(outcome, error) and took < 0.1, (fault, outcome, took)
            assert "injected by pytest-ipc" in str(outcome)
    with faults.inject(faults.fail_first(2), into=target) as active:
        assert [client.get(url).status_code for _ in range(3)] == [503, 503, 200]
        other = toxiproxy.create_proxy(upstream=f"{price.host}:{price.port}")  # another base URL: untouched
        assert client.get(other.url + "/price").json() == BODY
    assert active.activations() == 2
    assert len(price.calls()) == 2  # only the passed-through requests reached the stub
    assert client.get(url).json() == BODY


def test_respx_probability_with_a_seed_is_reproducible(price: HttpStub, client: httpx.Client) -> None:
    patterns = []
    for _ in range(2):
        with faults.inject(faults.status(503, probability=0.5, seed=4), into=faults.InProcess(price.url)):
            patterns.append([client.get(price.url_for("/price")).status_code for _ in range(12)])
    assert patterns[0] == patterns[1] and {200, 503} == set(patterns[0])


def test_proxy_layer_tcp_faults(proxy: Proxy, price: HttpStub, client: httpx.Client) -> None:
    url = proxy.url + "/price"
    assert client.get(url).json() == BODY
    with faults.inject(faults.outage(), into=proxy):
        assert isinstance(timed_get(client, url)[1], httpx.ConnectError)
    with faults.inject(faults.hang(), into=proxy) as hang:
        took, outcome = timed_get(client, url)
        assert isinstance(outcome, httpx.ReadTimeout) and took >= 0.45
    assert hang.activations() == 1
    with faults.inject(faults.reset(), into=proxy):
        assert isinstance(timed_get(client, url)[1], (httpx.ReadError, httpx.RemoteProtocolError))
    with faults.inject(faults.latency(0.2), into=proxy):
        took, answer = timed_get(client, url)
        assert isinstance(answer, httpx.Response) and 0.19 <= took < 0.45
    with faults.inject(faults.Latency.uniform(0.1, 0.3), into=proxy):
        took, answer = timed_get(client, url)
        assert isinstance(answer, httpx.Response) and 0.09 <= took < 0.6
    with faults.inject(faults.truncated(20), into=proxy):
        assert isinstance(timed_get(client, url)[1], httpx.RemoteProtocolError)
    assert client.get(url).json() == BODY
    assert proxy.toxics() == {} and proxy.refresh().enabled


def test_proxy_layer_bandwidth(proxy: Proxy, price: HttpStub, client: httpx.Client) -> None:
    price.expect("GET", "/big").respond(body=b"x" * 20_000)
    with faults.inject(faults.bandwidth(100_000), into=proxy):  # 20 kB at 100 kB/s: about 0.2 s
        took, answer = timed_get(client, proxy.url + "/big")
    assert isinstance(answer, httpx.Response) and len(answer.content) == 20_000 and took >= 0.15


def test_unsupported_and_unknown_targets_are_refused(price: HttpStub, proxy: Proxy) -> None:
    with pytest.raises(faults.FaultNotSupported, match=r"status-503 cannot be injected at the proxy layer .*layers that can: respx, stub"):
        faults.inject(faults.status(503), into=proxy).__enter__()
    with pytest.raises(faults.FaultNotSupported, match=r"outage cannot be injected at the stub layer .*layers that can: respx, proxy"):
        faults.inject(faults.outage(), into=price).__enter__()
    with pytest.raises(
        faults.FaultUsageError, match=r"cannot inject a fault into 'http://x'; pass InProcess\(base_url\) \(respx layer\); an HttpStub"
    ):
        faults.inject(faults.hang(), into="http://x").__enter__()
    assert price.faults == [] and proxy.toxics() == {}


def test_respx_layer_reaches_async_clients_too(price: HttpStub) -> None:
    async def three_calls() -> list[int]:
        async with httpx.AsyncClient(timeout=0.5) as http:
            return [(await http.get(price.url_for("/price"))).status_code for _ in range(3)]

    with faults.inject(faults.fail_first(2, status=429), into=faults.InProcess(price.url)):
        assert asyncio.run(three_calls()) == [429, 429, 200]
    assert len(price.calls()) == 1
