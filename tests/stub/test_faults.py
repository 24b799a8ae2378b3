"""Each HTTP-level fault as a real client sees it, reproducibility by seed, and refused bad input."""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time

import httpx
import pytest
import requests

from pytest_ipc.stub import (
    FAULT_TYPES,
    CloseBeforeHeaders,
    Delay,
    DribbleBody,
    EmptyResponse,
    Hang,
    HttpStub,
    MalformedChunk,
    RandomDataThenClose,
    Reset,
    Status,
    make_fault,
)

BODY = {"order": "A-1", "lines": list(range(40))}


def _get(stub: HttpStub, timeout: float = 5.0) -> httpx.Response:
    return httpx.get(stub.url_for("/orders"), timeout=timeout)


def test_status_fault_with_retry_after(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(Status(429, retry_after=2))
    answer = _get(http_stub)
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "2")
    assert http_stub.calls()[0].fault == "status"


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Reset(), httpx.ReadError, "reset by peer"),
        (EmptyResponse(), httpx.RemoteProtocolError, "without sending a response"),
        (CloseBeforeHeaders(), httpx.RemoteProtocolError, None),
        (MalformedChunk(), httpx.RemoteProtocolError, "illegal chunk header"),
        (RandomDataThenClose(64), httpx.RemoteProtocolError, None),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_wire_faults_break_the_exchange_for_a_real_client(http_stub: HttpStub, fault: object, error: type[Exception], message: str | None) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(fault)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        _get(http_stub)
    entry = http_stub.calls()[0]
    assert (entry.status, entry.fault) == (None, fault.name)  # type: ignore[attr-defined]


def test_close_before_headers_sends_the_status_line_only(http_stub: HttpStub) -> None:
    import socket

    http_stub.expect("GET", "/orders").respond(json=BODY).inject(CloseBeforeHeaders())
    with socket.create_connection((http_stub.host, http_stub.port), timeout=5) as sock:
        sock.sendall(b"GET /orders HTTP/1.1\r\nhost: localhost\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received == b"HTTP/1.1 200 OK\r\n"


def test_requests_sees_the_same_faults(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(MalformedChunk())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(http_stub.url_for("/orders"), timeout=5)


def test_dribbled_body_takes_the_duration_and_arrives_whole(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(DribbleBody(0.6, chunks=6))
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
    http_stub.expect("GET", "/slow").respond(text="late").inject(Delay.fixed(0.3))
    http_stub.expect("GET", "/never").inject(Hang())
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
        stub.expect("GET", "/never").inject(Hang())
        threading.Thread(target=lambda: _swallow(lambda: httpx.get(stub.url_for("/never"), timeout=30)), daemon=True).start()
        _wait_for(lambda: stub.journal.in_flight == 1)
        started = time.monotonic()
    assert time.monotonic() - started < 2.0


def test_delay_distributions_sample_reproducibly(http_stub: HttpStub) -> None:
    uniform = Delay.uniform(0.05, 0.15, seed=3)
    lognormal = Delay.lognormal(0.02, 0.5, max_s=0.2)
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
            stub.expect("GET", "/p").respond(text="ok").inject(Status(503, probability=0.3, seed=11))
            patterns.append(asyncio.run(forty_calls(stub)))
    rng = random.Random(11)
    assert patterns[0] == patterns[1] == [503 if rng.random() < 0.3 else 200 for _ in range(40)]
    assert 4 <= patterns[0].count(503) <= 20


def test_stub_wide_faults_apply_before_route_faults(http_stub: HttpStub) -> None:
    http_stub.inject(Delay.fixed(0.1))
    http_stub.expect("GET", "/orders").respond(json=BODY).inject("reset")
    with pytest.raises(httpx.ReadError):
        _get(http_stub)
    assert http_stub.calls()[0].fault == "delay+reset"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: make_fault("rest"), "unknown fault 'rest'; choose one of: status, reset, empty_response"),
        (lambda: make_fault("delay", seconds=-1), "seconds must be a finite number >= 0"),
        (lambda: make_fault("delay", secs=1), "unknown parameter(s) secs; delay takes: probability, seed, distribution, seconds"),
        (lambda: make_fault("delay", distribution="pareto"), "unknown distribution 'pareto'; choose one of: fixed, uniform, lognormal"),
        (lambda: Reset(probability=1.5), "probability must be between 0 and 1"),
        (lambda: Status(700), "200 to 599"),
        (lambda: Status(503, retry_after=-2), "retry_after must be whole seconds >= 0"),
        (lambda: Delay.uniform(2, 1), "low <= high"),
        (lambda: Delay.lognormal(0, 1), "median > 0"),
        (lambda: DribbleBody(1, chunks=0), "chunks must be an int >= 1"),
        (lambda: RandomDataThenClose(0), "nbytes must be an int >= 1"),
    ],
)
def test_bad_fault_definitions_raise_value_errors_naming_the_choices(build: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        build()  # type: ignore[operator]
    assert message in str(raised.value)


def test_every_fault_name_builds_with_defaults() -> None:
    assert {name: type(make_fault(name)).__name__ for name in FAULT_TYPES} == {name: kind.__name__ for name, kind in FAULT_TYPES.items()}


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def _swallow(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except httpx.HTTPError:
        pass


def test_async_client_sees_faults_too(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/orders").respond(json=BODY).inject(EmptyResponse())

    async def call() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(http_stub.url_for("/orders"))

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(call())
