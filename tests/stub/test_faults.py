"""Each HTTP-level fault as a real client sees it, reproducibility by seed, and refused bad input."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import statistics
import threading
import time

import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.faults import FAULTS, FaultNotSupported, FaultUsageError, Latency, make
from pytest_ipc.stub import HttpStub

BODY = {"order": "A-1", "lines": list(range(40))}


def _get(stub: HttpStub, timeout: float = 5.0) -> httpx.Response:
    return httpx.get(stub.url_for("/orders"), timeout=timeout)


def test_status_fault_with_retry_after(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(faults.status(429, retry_after=2))
    answer = _get(http_stub)
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "2")
    assert http_stub.calls()[0].fault == "status"


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (faults.reset(), httpx.ReadError, "reset by peer"),
        (faults.empty_response(), httpx.RemoteProtocolError, "without sending a response"),
        (faults.close_before_headers(), httpx.RemoteProtocolError, None),
        (faults.malformed_response(), httpx.RemoteProtocolError, "illegal chunk header"),
        (faults.random_bytes(64), httpx.RemoteProtocolError, None),
        (faults.truncated(60), httpx.RemoteProtocolError, None),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_wire_faults_break_the_exchange_for_a_real_client(
    http_stub: HttpStub, fault: object, error: type[Exception], message: str | None
) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(fault)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        _get(http_stub)
    entry = http_stub.calls()[0]
    assert (entry.status, entry.fault) == (None, fault.name)  # type: ignore[attr-defined]


def test_close_before_headers_sends_the_status_line_only(http_stub: HttpStub) -> None:
    import socket

    http_stub.expect("GET", "/orders").respond(json=BODY).inject(faults.close_before_headers())
    with socket.create_connection((http_stub.host, http_stub.port), timeout=5) as sock:
        sock.sendall(b"GET /orders HTTP/1.1\r\nhost: localhost\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received == b"HTTP/1.1 200 OK\r\n"


def test_requests_sees_the_same_faults(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(faults.malformed_response())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(http_stub.url_for("/orders"), timeout=5)


def test_dribbled_body_takes_the_duration_and_arrives_whole(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(faults.dribble(0.6, pieces=6))
    arrivals: list[float] = []
    with httpx.Client(timeout=5) as client:
        started = time.monotonic()
        with client.stream("GET", http_stub.url_for("/orders")) as answer:
            headers_at = time.monotonic() - started
            body = b""
            for piece in answer.iter_raw():
                arrivals.append(time.monotonic() - started)
                body += piece
    assert answer.status_code == 200
    assert 0.55 <= arrivals[-1] < 3.0, "the last byte comes after the duration"
    assert arrivals[-1] - headers_at >= 0.4, "the head came at once, the body over time"
    assert len(arrivals) >= 3, "the body came in pieces"
    assert httpx.Response(200, content=body).json() == BODY


def test_fixed_delay_and_hang_then_reset_cancels_the_hang(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/slow").respond(text="late").inject(faults.latency(0.3))
    http_stub.expect("GET", "/never").inject(faults.hang())
    started = time.monotonic()
    assert httpx.get(http_stub.url_for("/slow"), timeout=5).text == "late"
    assert 0.3 <= time.monotonic() - started < 2.0
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(http_stub.url_for("/never"), timeout=0.3)

    outcome: list[BaseException] = []

    def hung_client() -> None:
        try:
            httpx.get(http_stub.url_for("/never"), timeout=30)
        except httpx.HTTPError as error:
            outcome.append(error)

    client = threading.Thread(target=hung_client)
    client.start()
    _wait_for(lambda: http_stub.journal.in_flight == 2)  # the timed-out hang above still counts
    started = time.monotonic()
    http_stub.reset()
    client.join(5)
    assert time.monotonic() - started < 2.0, "reset does not wait for the hang"
    assert isinstance(outcome[0], httpx.RemoteProtocolError), "the hung client is released by a close"


def test_hang_does_not_block_stopping_a_stub() -> None:
    with HttpStub() as stub:
        stub.expect("GET", "/never").inject(faults.hang())
        threading.Thread(target=lambda: _swallow(lambda: httpx.get(stub.url_for("/never"), timeout=30)), daemon=True).start()
        _wait_for(lambda: stub.journal.in_flight == 1)
        started = time.monotonic()
    assert time.monotonic() - started < 2.0


def test_delay_distributions_sample_reproducibly(http_stub: HttpStub) -> None:
    uniform = Latency.uniform(0.05, 0.15, seed=3)
    lognormal = Latency.lognormal(0.02, 0.5, maximum=0.2)
    first_stream, second_stream = random.Random(5), random.Random(5)
    assert [uniform.sample(first_stream) for _ in range(5)] == [uniform.sample(second_stream) for _ in range(5)]
    rng = random.Random(3)
    samples = [lognormal.sample(rng) for _ in range(400)]
    assert 0.015 < statistics.median(samples) < 0.027 and max(samples) <= 0.2
    assert statistics.quantiles(samples, n=10)[-1] > 1.5 * statistics.median(samples), "a long right tail"

    http_stub.expect("GET", "/u").respond(text="ok").inject(uniform)
    expected = random.Random(3).uniform(0.05, 0.15)  # the route's first draw from its seed
    started = time.monotonic()
    httpx.get(http_stub.url_for("/u"), timeout=5)
    assert expected <= time.monotonic() - started < expected + 1.0
    duration = http_stub.calls()[0].duration
    assert duration is not None and expected <= duration < expected + 0.5


def test_probability_with_a_seed_fires_the_same_requests_every_time() -> None:
    async def forty_calls(stub: HttpStub) -> list[int]:
        async with httpx.AsyncClient(base_url=stub.url) as client:
            return [(await client.get("/p")).status_code for _ in range(40)]

    patterns = []
    for _ in range(2):
        with HttpStub() as stub:
            stub.expect("GET", "/p").respond(text="ok").inject(faults.status(503, probability=0.3, seed=11))
            patterns.append(asyncio.run(forty_calls(stub)))
    rng = random.Random(11)
    assert patterns[0] == patterns[1] == [503 if rng.random() < 0.3 else 200 for _ in range(40)]
    assert 4 <= patterns[0].count(503) <= 20


def test_stub_wide_faults_apply_before_route_faults(http_stub: HttpStub) -> None:
    http_stub.inject(faults.latency(0.1))
    http_stub.expect("GET", "/orders").respond(json=BODY).inject("reset")
    with pytest.raises(httpx.ReadError):
        _get(http_stub)
    assert http_stub.calls()[0].fault == "latency+reset"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: make("rest"), "unknown fault 'rest'; choose one of: latency, hang, outage, reset, status"),
        (lambda: make("latency", delay=-1), "latency: delay must be a finite number >= 0, got -1"),
        (
            lambda: make("latency", secs=1),
            "latency: unknown parameter(s) secs; latency takes: probability, seed, times, delay, distribution",
        ),
        (
            lambda: make("latency", delay=1, distribution="pareto"),
            "unknown distribution 'pareto'; choose one of: fixed, uniform, lognormal",
        ),
        (lambda: faults.reset(probability=1.5), "reset: probability must be a number from 0 to 1, got 1.5"),
        (lambda: faults.status(700), "status: code must be an int from 200 to 599"),
        (lambda: faults.status(503, retry_after=-2), "retry_after (whole seconds) must be an int >= 0"),
        (lambda: faults.hang(times=0), "hang: times must be an int >= 1, got 0"),
        (lambda: Latency.uniform(2, 1), "low <= high"),
        (lambda: Latency.lognormal(0, 1), "median > 0"),
        (lambda: faults.dribble(1, pieces=0), "dribble: pieces must be an int >= 1, got 0"),
        (lambda: faults.dribble(1, pieces=2, piece_size=3), "dribble: give pieces= or piece_size=, not both"),
        (lambda: faults.random_bytes(0), "random_bytes: size (bytes) must be an int >= 1, got 0"),
    ],
)
def test_bad_fault_definitions_are_usage_errors_naming_the_choices(build: object, message: str) -> None:
    with pytest.raises(FaultUsageError) as raised:
        build()  # type: ignore[operator]
    assert message in str(raised.value)


def test_faults_the_stub_cannot_express_are_refused_at_the_route(http_stub: HttpStub) -> None:
    route = http_stub.expect("GET", "/orders")
    with pytest.raises(FaultNotSupported, match=r"outage cannot be injected at the stub layer .*; layers that can: respx, proxy"):
        route.inject(faults.outage())
    with pytest.raises(FaultNotSupported, match=r"connect-timeout cannot be injected at the stub layer"):
        http_stub.inject("connect_timeout")
    assert route.faults == [] and http_stub.faults == []


def test_every_fault_name_builds() -> None:
    required = {"latency": {"delay": 0.1}, "bandwidth": {"rate": 10}, "truncated": {"size": 3}, "dribble": {"duration": 1}}
    assert {name: type(make(name, **required.get(name, {}))) for name in FAULTS} == FAULTS


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def _swallow(call: object) -> None:
    with contextlib.suppress(httpx.HTTPError):
        call()  # type: ignore[operator]


def test_async_client_sees_faults_too(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(faults.empty_response())

    async def call() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(http_stub.url_for("/orders"))

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(call())


def _arrivals(stub: HttpStub, path: str) -> tuple[list[float], bytes]:
    """When each piece of the raw answer arrived (seconds after sending), and all its bytes."""
    import socket

    arrivals: list[float] = []
    received = b""
    with socket.create_connection((stub.host, stub.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(f"GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".encode())
        while chunk := sock.recv(65536):
            arrivals.append(time.monotonic() - started)
            received += chunk
    return arrivals, received


def test_default_dribble_trickles_in_small_gaps_so_per_read_timeouts_never_fire(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/big").respond(text="x" * 400).inject(faults.dribble(0.5))
    http_stub.expect("GET", "/tiny").respond(text="ok").inject(faults.dribble(0.5))
    for path in ("/big", "/tiny"):  # the tiny body has too few bytes: its head trickles too
        arrivals, received = _arrivals(http_stub, path)
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        assert received.endswith(b"x" * 400 if path == "/big" else b"ok")
        assert 0.45 <= arrivals[-1] < 3.0, path
        assert len(arrivals) >= 10, f"{path}: the answer came in {len(arrivals)} pieces"  # 50 sent; a busy host merges some
        assert statistics.median(gaps) < 0.1, f"{path}: pieces about 10 ms apart, measured {statistics.median(gaps):.3f} s"
    with httpx.Client(timeout=0.1) as client:  # a per-read timeout of 100 ms: never fires on the trickle
        started = time.monotonic()
        assert client.get(http_stub.url_for("/tiny")).text == "ok"
        assert time.monotonic() - started >= 0.45


def test_dribble_piece_size_splits_the_body(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(text="y" * 100).inject(faults.dribble(0.3, piece_size=50))
    arrivals, received = _arrivals(http_stub, "/orders")
    assert received.endswith(b"y" * 100) and 2 <= len(arrivals) <= 3 and arrivals[-1] >= 0.28


def test_bandwidth_paces_the_whole_answer(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/big").respond(body=b"z" * 5000).inject(faults.bandwidth(20_000))  # 5 kB at 20 kB/s
    started = time.monotonic()
    assert len(httpx.get(http_stub.url_for("/big"), timeout=5).content) == 5000
    assert 0.24 <= time.monotonic() - started < 2.0


def test_truncated_sends_exactly_the_first_bytes(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(text="0123456789").inject(faults.truncated(20))
    _, received = _arrivals(http_stub, "/orders")
    assert received == b"HTTP/1.1 200 OK\r\ncon"


def test_times_limits_the_firings_and_counts_them(http_stub: HttpStub) -> None:
    route = http_stub.expect("GET", "/orders").respond(json=BODY)
    with faults.inject(faults.status(503, times=2), into=http_stub) as active:
        assert [_get(http_stub).status_code for _ in range(4)] == [503, 503, 200, 200]
        assert active.activations() == 2
    assert faults.fail_first(2) == faults.status(503, times=2)
    http_stub.expect("GET", "/first").fail_first(1, status=429, retry_after=3).then_respond(json=BODY)
    first = httpx.get(http_stub.url_for("/first"), timeout=5)
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert route.served == 4
