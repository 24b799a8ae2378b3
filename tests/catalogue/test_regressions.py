"""One regression test per false pass of issue 13 in the faults and resilience area: each passed on
the code before the rework, and must fail (or, for the tolerant reader, report the truth) now."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.contracts.evolve import ResponseEvolver
from pytest_ipc.resilience import (
    assert_breaker,
    assert_request_cap,
    assert_retry_jitter,
    assert_timeout_honoured,
)
from pytest_ipc.stub import HttpStub, Route
from tests.catalogue.variants import PRICE, TLS


def test_a_requests_client_in_a_respx_cell_fails(http_stub: HttpStub, price_route: Route) -> None:
    """The reset 'injected' through respx never reached requests: the stub answered 200, the cell passed."""
    with pytest.raises(faults.FaultNeverFired, match=r"respx only intercepts httpx; this call did not go through httpx"):
        with faults.inject(faults.reset(), into=faults.InProcess(http_stub.url), upstream=http_stub):
            assert requests.get(http_stub.url_for("/price"), timeout=2).json() == {"eur": PRICE}


def test_a_client_calling_the_stub_directly_fails(http_stub: HttpStub, price_route: Route, toxiproxy) -> None:  # type: ignore[no-untyped-def]
    """The test called the stub instead of the proxy in front of it: the proxy counted 0 connections."""
    proxy = toxiproxy.create_proxy(upstream=f"{http_stub.host}:{http_stub.port}")
    with pytest.raises(faults.FaultNeverFired, match=r"the client never connected through the proxy — did it use ipc_target_url"):
        with faults.inject(faults.latency(0.2), into=proxy, upstream=http_stub):
            httpx.get(http_stub.url_for("/price"), timeout=2)


def test_a_serialised_cap_fails(http_stub: HttpStub, price_route: Route) -> None:
    """Four admitted calls run one at a time (a lock held for the whole call): max_in_flight 1 <= 4 passed."""
    slots, lock = threading.BoundedSemaphore(4), threading.Lock()

    def price() -> float:
        if not slots.acquire(blocking=False):
            raise RuntimeError("too busy")
        try:
            with lock:
                return float(httpx.get(http_stub.url_for("/price"), timeout=2, verify=TLS).json()["eur"])
        finally:
            slots.release()

    with pytest.raises(AssertionError, match=r"request cap serialised: expected exactly 4 request\(s\) in flight .*measured at most 1"):
        assert_request_cap(http_stub, 4, call=price, concurrency=8, fail_fast=0.1, hold=0.2)


def test_the_tolerant_reader_reports_only_real_reorders_and_always_reorders() -> None:
    """It reported 'reordered the keys of $' for keys that kept their order, and one seeded shuffle
    let a key-order-dependent reader survive some seeds."""
    single = ResponseEvolver(seed=0, add_fields=False)
    single({"only": 1})
    assert single.changes == []
    for seed in range(20):
        evolver = ResponseEvolver(seed=seed, add_fields=False)
        evolved = evolver({"id": 1, "status": "placed", "note": "x"})
        assert isinstance(evolved, dict)
        assert all(before != after for before, after in zip(["id", "status", "note"], evolved, strict=True)), (seed, list(evolved))
        assert evolver.changes == ["reordered the keys of $"]


def _hand_breaker(lets_all_through: bool, counts_404: bool):  # type: ignore[no-untyped-def]
    state = {"failures": 0, "opened": 0.0, "trial": False}
    lock = threading.Lock()
    http = httpx.Client(timeout=1, verify=TLS)

    def call(url: str) -> str:
        with lock:
            if state["failures"] >= 2:
                if time.monotonic() - state["opened"] < 0.3 or (state["trial"] and not lets_all_through):
                    return "open"
                state["trial"] = True
        status = http.get(url).status_code
        with lock:
            state["trial"] = False
            if status >= 500 or (status == 404 and counts_404):
                state["failures"] += 1
                state["opened"] = time.monotonic()
                return "failed"
            state["failures"] = 0
            return "ok"

    return call


def test_a_breaker_letting_every_concurrent_call_through_in_half_open_fails(http_stub: HttpStub, price_route: Route) -> None:
    """The probe called one at a time, so a half-open that admits every concurrent call passed."""
    call = _hand_breaker(lets_all_through=True, counts_404=False)
    with pytest.raises(AssertionError, match=r"breaker lets every concurrent call through in half-open"):
        assert_breaker(lambda: call(http_stub.url_for("/price")), http_stub, threshold=2, cool_down=0.3, fail_fast=0.1)


def test_a_breaker_opened_by_404s_fails(http_stub: HttpStub, price_route: Route) -> None:
    """Nothing could say which errors must not count, so a breaker opened by 404s passed."""
    call = _hand_breaker(lets_all_through=False, counts_404=True)
    with pytest.raises(AssertionError, match=r"breaker counts errors that must not count: after 2 call\(s\) answered with status-404"):
        assert_breaker(lambda: call(http_stub.url_for("/price")), http_stub, threshold=2, cool_down=0.3, not_counted=[faults.status(404)])


def test_retries_in_lockstep_fail(http_stub: HttpStub, price_route: Route) -> None:
    """Nothing checked jitter: ten clients retrying after exactly 0.1 s passed."""

    def price() -> None:
        for _ in range(3):
            if requests.get(http_stub.url_for("/price"), timeout=1).status_code < 500:
                return
            time.sleep(0.1)

    with pytest.raises(AssertionError, match=r"retries in lockstep"):
        assert_retry_jitter(price, http_stub, clients=10, window=0.01)


def test_a_per_read_timeout_under_the_default_dribble_fails(http_stub: HttpStub) -> None:
    """dribble(s) sent 10 pieces: over 3 s, gaps of 0.3 s tripped a 0.25 s read timeout, and a client
    with no total deadline looked bounded. Now the pieces come ~10 ms apart."""
    http_stub.expect("GET", "/price").respond(json={"eur": PRICE, "history": list(range(300))})
    with (
        faults.inject(faults.dribble(3.0), into=http_stub),
        pytest.raises(AssertionError, match=r"the client has no total deadline on the call"),
    ):
        assert_timeout_honoured(lambda: httpx.get(http_stub.url_for("/price"), timeout=0.25), budget=1.0, stub=http_stub)


def test_a_retry_loop_is_not_told_to_set_a_timeout(http_stub: HttpStub, price_route: Route) -> None:
    """A client with a timeout looping on retries was told "Does the client set a timeout?"."""

    def price() -> None:
        for _ in range(30):
            try:
                httpx.get(http_stub.url_for("/price"), timeout=0.2)
                return
            except httpx.TimeoutException:
                continue

    with faults.inject(faults.hang(), into=http_stub), pytest.raises(AssertionError) as failed:
        assert_timeout_honoured(price, budget=0.8, stub=http_stub)
    message = str(failed.value)
    assert "Does the client set a timeout?" not in message
    assert "attempts over" in message and "Each attempt has a timeout, but nothing bounds the whole call" in message
