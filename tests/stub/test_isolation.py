"""Tests cannot leak into each other through the stub: each test has a port of its own, its connections
close when it ends, and what its clients send afterwards is refused and reported as its own.

The stub-level tests drive `begin_test`/`end_test` as the fixture does; the session-level ones run
whole pytest sessions in-process, as in test_fixture.py (which also checks the summary under xdist).
"""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.stub import HttpStub
from pytest_ipc.stub.embedded import ENDED_PORTS_KEPT

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")


def keep_alive_get(sock: socket.socket, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n".encode())
    return sock.recv(65536)


def test_each_test_has_its_own_port_and_an_ended_tests_port_answers_503_as_that_tests_request() -> None:
    with HttpStub() as stub:
        stub.begin_test("test_orders.py::test_one")
        first = stub.url
        stub.expect("GET", "/orders").respond(json=[])
        assert httpx.get(f"{first}/orders").status_code == 200
        assert [entry.test for entry in stub.calls()] == ["test_orders.py::test_one"]
        stub.end_test()

        stub.begin_test("test_orders.py::test_two")
        assert stub.url != first
        stub.expect("GET", "/orders").respond(json=[])
        late = httpx.get(f"{first}/orders?page=2")
        assert late.status_code == 503 and late.headers["connection"] == "close"
        assert "served test_orders.py::test_one, which has ended" in late.text
        assert stub.calls() == [] and stub.problems_report() is None, "the late request is not the second test's"
        [entry] = stub.late_requests
        assert (entry.test, entry.method, entry.path, entry.query, entry.status) == (
            "test_orders.py::test_one", "GET", "/orders", {"page": ["2"]}, 503
        )
        stub.end_test()


def test_an_ended_tests_connections_are_closed_hung_requests_included() -> None:
    with HttpStub() as stub:
        stub.begin_test("test_pool.py::test_a")
        stub.expect("GET", "/ok").respond(text="ok")
        pooled = socket.create_connection((stub.host, stub.port), timeout=5)
        hung = socket.create_connection((stub.host, stub.port), timeout=5)
        with pooled, hung:
            assert keep_alive_get(pooled, "/ok").endswith(b"ok")
            with faults.inject(faults.hang(), into=stub):
                hung.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n")
                while len(stub.calls()) < 2:  # the stub holds it now
                    threading.Event().wait(0.005)
            stub.end_test()
            assert pooled.recv(1) == b"", "the idle keep-alive connection was closed at the test's end"
            assert hung.recv(1) == b"", "the hung request was cancelled and its connection closed"


def test_only_the_last_ended_ports_stay_open() -> None:
    with HttpStub() as stub:
        ports = []
        for number in range(ENDED_PORTS_KEPT + 2):
            stub.begin_test(f"test_{number}")
            ports.append(stub.port)
            stub.end_test()
        open_now = {stub.port, *ports[2:]}
        for closed in ports[:2]:
            if closed not in open_now:  # the kernel may hand a freed port out again
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection((stub.host, closed), timeout=5).close()
        assert httpx.get(f"http://{stub.host}:{ports[2]}/").status_code == 503


def test_a_fixed_port_serves_every_test_and_still_closes_connections_at_each_end() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HttpStub(port=port) as stub:
        stub.begin_test("test_a")
        with socket.create_connection((stub.host, port), timeout=5) as pooled:
            stub.allow_unmatched()
            assert keep_alive_get(pooled, "/x").startswith(b"HTTP/1.1 404 ")
            stub.end_test()
            assert pooled.recv(1) == b""
        stub.begin_test("test_b")
        assert stub.port == port and stub.calls() == []
        stub.end_test()


ISSUE_SCENARIO = """
import threading
import time

import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.resilience import assert_timeout_honoured

retried = threading.Event()


def get_with_retries(url):
    # No timeout, so each attempt waits as long as the server lets it; on a lost connection it backs
    # off a little and retries (by then the next test is running).
    try:
        for _ in range(3):
            try:
                return requests.get(url).status_code
            except requests.ConnectionError:
                time.sleep(0.3)
    finally:
        retried.set()


def test_gives_up_on_a_call_that_keeps_running(http_stub):
    http_stub.expect("GET", "/orders").respond(json=[])
    url = http_stub.url_for("/orders")
    with faults.inject(faults.hang(), into=http_stub):
        with pytest.raises(AssertionError):
            assert_timeout_honoured(lambda: get_with_retries(url), budget=0.1, slack=0.1)


def test_an_innocent_next_test(http_stub):
    http_stub.expect("GET", "/health").respond(text="ok")
    assert retried.wait(10), "the first test's call retried once its connection was closed"
    assert http_stub.calls() == []


POOL = {}


def test_a_pools_a_keep_alive_connection(http_stub):
    http_stub.expect("GET", "/ok").respond(text="ok")
    sock = POOL["sock"] = __import__("socket").create_connection((http_stub.host, http_stub.port), timeout=5)
    sock.sendall(b"GET /ok HTTP/1.1\\r\\nhost: localhost\\r\\n\\r\\n")
    assert sock.recv(4096).endswith(b"ok")


def test_b_finds_it_closed(http_stub):
    with POOL["sock"] as sock:
        assert sock.recv(1) == b""
"""


def test_a_call_given_up_on_retries_into_its_own_ended_test_not_the_next(pytester: pytest.Pytester) -> None:
    """The issue's scenario: `assert_timeout_honoured` gives up on a call that keeps running; when its
    connection is closed at the test's end, it retries. Before, the retry landed in the next test's
    stub and failed that innocent test at teardown ("1 request(s) matched no route")."""
    pytester.makepyfile(test_scenario=ISSUE_SCENARIO)
    result = pytester.runpytest_inprocess(*QUIET, "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*= http_stub: late requests =*",
            "1 request(s) arrived after their test ended (answered 503, counted in no later test):",
            "  test_scenario.py::test_gives_up_on_a_call_that_keeps_running GET /orders",
        ]
    )


def test_a_session_without_late_requests_prints_nothing_about_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx

        URLS = []

        def test_one(http_stub):
            URLS.append(http_stub.url)
            http_stub.expect("GET", "/a").respond(text="a")
            assert httpx.get(http_stub.url_for("/a")).text == "a"

        def test_two(http_stub, http_stub_server):
            assert http_stub is http_stub_server and http_stub.url != URLS[0]
        """
    )
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=2)
    assert "late requests" not in result.stdout.str()


def test_requests_sessions_reconnect_transparently_after_a_test_ends() -> None:
    """A pooled connection closed at a test's end is not an error for the client that pooled it: its
    next call opens a new connection (to the ended test's port, so it gets the late 503)."""
    with HttpStub() as stub, requests.Session() as session:
        stub.begin_test("test_a")
        stub.expect("GET", "/ok").respond(text="ok")
        url = stub.url_for("/ok")
        assert session.get(url, timeout=5).text == "ok"
        stub.end_test()
        stub.begin_test("test_b")
        assert session.get(url, timeout=5).status_code == 503
        stub.end_test()
