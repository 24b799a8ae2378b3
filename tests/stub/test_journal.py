"""The journal: timing, concurrency seen, and the verification helpers' verdicts and messages."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.stub import HttpStub


def test_entries_record_request_route_outcome_and_timestamps(http_stub: HttpStub) -> None:
    route = http_stub.expect("POST", "/v1/orders/{order_id}").respond(status=201, json={"ok": True})
    before = time.monotonic()
    httpx.post(http_stub.url_for("/v1/orders/9?source=web&source=app"), json={"qty": 2}, headers={"X-Trace": "t1"})
    after = time.monotonic()
    [entry] = http_stub.calls(route)
    assert (entry.method, entry.path, entry.query, entry.status) == ("POST", "/v1/orders/9", {"source": ["web", "app"]}, 201)
    assert entry.headers["x-trace"] == "t1" and entry.json() == {"qty": 2} and entry.body == b'{"qty":2}'
    assert entry.text == '{"qty":2}' and entry.route is route and entry.params == {"order_id": "9"}
    assert entry.ended is not None and before <= entry.started <= entry.ended <= after


def test_max_in_flight_counts_concurrent_clients(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/slow").respond(text="ok").inject(faults.latency(0.4))
    all_ready = threading.Barrier(8)

    def call(_: int) -> int:
        with requests.Session() as session:
            all_ready.wait(5)  # a loaded machine starts threads late; they call together
            return session.get(http_stub.url_for("/slow"), timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(8)))
    assert answers == [200] * 8
    assert http_stub.max_in_flight == 8
    entries = http_stub.calls()
    assert all(entry.duration is not None and entry.duration >= 0.4 for entry in entries)
    latest_start = max(entry.started for entry in entries)
    assert all(entry.ended is not None and entry.ended > latest_start for entry in entries), "all eight overlapped"


def test_sequential_requests_never_overlap(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/a").respond()
    with httpx.Client() as client:
        for _ in range(5):
            client.get(http_stub.url_for("/a"))
    assert http_stub.max_in_flight == 1


def test_assert_called_times_and_in_order(http_stub: HttpStub) -> None:
    login = http_stub.expect("POST", "/login").respond()
    fetch = http_stub.expect("GET", "/data").respond()
    logout = http_stub.expect("POST", "/logout", name="logout").respond()
    with httpx.Client(base_url=http_stub.url) as client:
        client.post("/login")
        client.get("/data")
        client.get("/data")
        client.post("/logout")
    http_stub.assert_called(login, times=1)
    http_stub.assert_called("GET /data", times=2)
    http_stub.assert_called_in_order([login, fetch, "logout"])
    with pytest.raises(AssertionError, match=r"GET /data was expected to be called 3 time\(s\), was called 2 time\(s\)"):
        http_stub.assert_called(fetch, times=3)
    with pytest.raises(AssertionError, match="expected calls in the order logout -> POST /login; POST /login is missing") as raised:
        http_stub.assert_called_in_order([logout, login])
    assert "1. POST /login -> 200" in str(raised.value)
    with pytest.raises(ValueError, match="no route named 'GET /dta'; routes: 'POST /login', 'GET /data', 'logout'"):
        http_stub.assert_called("GET /dta")


def test_assert_not_called(http_stub: HttpStub) -> None:
    unused = http_stub.expect("GET", "/unused").respond()
    http_stub.assert_not_called(unused)
    httpx.get(http_stub.url_for("/unused"))
    with pytest.raises(AssertionError):
        http_stub.assert_not_called(unused)


def test_reset_clears_routes_journal_and_peak(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/a").respond(text="a")
    httpx.get(http_stub.url_for("/a"))
    http_stub.reset()
    assert (http_stub.calls(), http_stub.max_in_flight, http_stub.routes) == ([], 0, [])
    http_stub.allow_unmatched()
    assert httpx.get(http_stub.url_for("/a")).status_code == 404
