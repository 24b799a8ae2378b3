"""The stub survives garbage and malformed requests, answers them clearly, and starts fast."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from pytest_ipc.stub import HttpStub, Limits


def _raw(stub: HttpStub, data: bytes) -> bytes:
    with socket.create_connection((stub.host, stub.port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello at a plain port
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nno-colon-header\r\n\r\n",
        b"POST /x HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["tls-hello", "junk-line", "bad-header", "bad-chunk"],
)
def test_garbage_gets_a_400_and_the_next_request_works(http_stub: HttpStub, garbage: bytes) -> None:
    http_stub.expect("GET", "/ok").respond(text="still here")
    answer = _raw(http_stub, garbage)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"pytest-ipc http stub: bad request" in answer
    assert http_stub.bad_requests, "the refusal is recorded"
    assert httpx.get(http_stub.url_for("/ok")).text == "still here"


def test_a_client_vanishing_mid_request_is_harmless(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/ok").respond(text="fine")
    with socket.create_connection((http_stub.host, http_stub.port)) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nhost: localhost\r\ncontent-le")
    with socket.create_connection((http_stub.host, http_stub.port)) as sock:
        sock.sendall(b"POST /ok HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\nshort")
    assert httpx.get(http_stub.url_for("/ok")).text == "fine"


def test_oversize_bodies_are_refused_with_413() -> None:
    with HttpStub(limits=Limits(max_body=1024)) as stub:
        stub.expect("POST", "/upload").respond()
        assert httpx.post(stub.url_for("/upload"), content=b"x" * 4096).status_code == 413
        assert httpx.post(stub.url_for("/upload"), content=b"x" * 10).status_code == 200


def test_start_and_first_response_are_quick() -> None:
    started = time.perf_counter()
    with HttpStub() as stub:
        up = time.perf_counter() - started
        stub.expect("GET", "/ping").respond(text="pong")
        with socket.create_connection((stub.host, stub.port)) as sock:
            sock.sendall(b"GET /ping HTTP/1.1\r\nhost: localhost\r\n\r\n")
            assert sock.recv(4096).endswith(b"pong")
    assert up < 0.5, f"start took {up * 1000:.1f} ms (the benchmark holds the precise target)"


def test_using_a_stopped_stub_is_a_clear_error() -> None:
    stub = HttpStub()
    with pytest.raises(RuntimeError, match="not running; call start"):
        stub.reset()
    with stub, pytest.raises(RuntimeError, match="already running"):
        stub.start()
    with pytest.raises(ValueError, match="starting with '/'"):
        stub.url_for("x")
