"""The HTTP core under the stub, the admin API and the Pact callbacks, on both event loops, over raw
sockets: keep-alive and pipelining, h11's framing per request, idle timeouts, half-closed and
non-reading clients, failing handlers, and stop() with handlers still waiting."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_ipc._http import Exchange, Handler, HandlerResult, HttpServer, Request, Response
from pytest_ipc._loop import EVENT_LOOP_ENV, LoopThread

Serve = Callable[..., "Running"]
HELLO = Response(200, b"hello", [("content-type", "text/plain")])
HELLO_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"


@pytest.fixture(
    params=["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"))]
)
def serve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Starts an HttpServer on its own loop thread of the parametrised kind; stops them all after."""
    monkeypatch.setenv(EVENT_LOOP_ENV, request.param)
    started: list[Running] = []

    def start(handler: Handler, **options: float) -> Running:
        started.append(Running(handler, **options))
        return started[-1]

    yield start
    for running in started:
        running.stop()


class Running:
    """An HttpServer on a loop thread of its own."""

    def __init__(self, handler: Handler, **options: float) -> None:
        self.loop = LoopThread("test-http-core").start()
        self.server = HttpServer(handler, **options)  # type: ignore[arg-type]
        self.loop.run(self.server.start())
        self.address = self.server.address

    def stop(self) -> None:
        if self.loop.running:
            self.loop.run(self.server.stop())
            self.loop.stop()


def by_path(request: Request, _exchange: Exchange) -> HandlerResult:
    """Answers /hello at once, /later after a moment (an awaited handler), anything else with its path."""
    if request.path == "/hello":
        return HELLO
    if request.path == "/later":
        return _later()
    return Response(200, request.path.encode())


async def _later() -> Response:
    await asyncio.sleep(0.05)
    return Response(200, b"later")


def talk(running: Running, data: bytes, *, half_close: bool = False) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    with socket.create_connection(running.address, timeout=5) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def get(path: str, *extra: str, version: str = "1.1", method: str = "GET") -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/{version}", "host: a", *extra, "", ""]).encode()


def test_pipelined_requests_are_answered_in_order_on_one_connection(serve: Serve) -> None:
    server = serve(by_path)
    answer = talk(server, get("/later") + get("/now") + get("/later") + get("/last", "connection: close"))
    bodies = [part.rsplit(b"\r\n\r\n", 1)[-1] for part in answer.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [b"later", b"/now", b"later", b"/last"]
    assert answer.lower().count(b"connection: close") == 1


def test_h11_frames_each_answer_for_the_request_it_answers(serve: Serve) -> None:
    """The same response, framed again per request: keep-alive, HEAD (no body), HTTP/1.0 (close)."""
    server = serve(by_path)
    answer = talk(server, get("/hello") + get("/hello", method="HEAD") + get("/hello") + get("/hello", version="1.0"))
    keep_alive = HELLO_HEAD + b"\r\nhello"
    assert answer == keep_alive + HELLO_HEAD + b"\r\n" + keep_alive + HELLO_HEAD + b"Connection: close\r\n\r\nhello"


def test_a_client_that_half_closes_still_gets_its_answers(serve: Serve) -> None:
    server = serve(by_path)
    answer = talk(server, get("/now") + get("/later"), half_close=True)
    assert answer.endswith(b"\r\n\r\nlater") and answer.count(b"HTTP/1.1 200 OK") == 2


def test_idle_and_stalled_clients_are_closed_after_the_idle_timeout(serve: Serve) -> None:
    server = serve(by_path, idle_timeout=0.3)
    for data in (b"", get("/now") + b"GET /stalled HTTP/1.1\r\nhost:"):
        began = time.monotonic()
        answer = talk(server, data)
        assert 0.3 <= time.monotonic() - began < 3
        assert b"stalled" not in answer


def test_a_handler_slower_than_the_idle_timeout_still_answers(serve: Serve) -> None:
    async def slow(_request: Request) -> Response:
        await asyncio.sleep(0.4)
        return HELLO

    server = serve(lambda request, _exchange: slow(request), idle_timeout=0.1)
    assert talk(server, get("/slow", "connection: close")).endswith(b"hello")


def test_100_continue_is_sent_before_the_body(serve: Serve) -> None:
    server = serve(lambda request, _exchange: Response(200, request.body))
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(get("/upload", "expect: 100-continue", "content-length: 4", "connection: close"))
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"data")
        assert sock.recv(4096).endswith(b"\r\n\r\ndata")


def test_a_failing_handler_or_unsendable_answer_closes_only_its_connection(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: Request, _exchange: Exchange) -> Response:
        if request.path == "/raise":
            raise RuntimeError("handler bug")
        if request.path == "/bad-header":
            return Response(200, b"x", [("x-broken", "a\r\nb")])
        return HELLO

    server = serve(handler)
    assert talk(server, get("/raise")) == b""
    assert "handler bug" in caplog.text
    assert talk(server, get("/bad-header")) == b""
    assert talk(server, get("/hello", "connection: close")).endswith(b"hello")


def test_a_client_that_does_not_read_stops_the_answering_not_the_server(serve: Serve) -> None:
    """Pipelined requests wait while their answers cannot be written (no unbounded buffering), others
    are served meanwhile, and everything is answered once the client reads."""
    big = Response(200, b"x" * (1 << 20))
    handled: list[str] = []

    def handler(request: Request, _exchange: Exchange) -> Response:
        handled.append(request.path)
        return big if request.path == "/big" else HELLO

    running = serve(handler)
    count = 32  # 32 MiB of answers: more than the kernel's socket buffers hold
    with socket.create_connection(running.address, timeout=5) as greedy:
        greedy.sendall(get("/big") * count)
        deadline = time.monotonic() + 5
        while "/big" not in handled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert talk(running, get("/hello", "connection: close")).endswith(b"hello")
        assert 0 < handled.count("/big") < count
        expected = count * (len(big.body) + len(b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n"))
        received = 0
        while received < expected and (chunk := greedy.recv(1 << 20)):
            received += len(chunk)
        assert received == expected


def test_writing_to_a_client_that_left_ends_the_handler_quietly(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    """A handler writing on (a dribbled body) learns the client left from ConnectionResetError, on
    either loop, and nothing is logged as an error."""
    errors: list[BaseException] = []
    ended = threading.Event()

    async def trickle(exchange: Exchange) -> Response:
        try:
            while True:
                exchange.write(b"x" * 65536)
                await exchange.drain()
                await asyncio.sleep(0.01)
        except BaseException as error:
            errors.append(error)
            raise
        finally:
            ended.set()

    running = serve(lambda _request, exchange: trickle(exchange))
    with socket.create_connection(running.address, timeout=5) as sock:
        sock.sendall(get("/trickle"))
        assert sock.recv(1) == b"x"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # leave with a RST
    assert ended.wait(5)
    assert [type(error) for error in errors] == [ConnectionResetError]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_stop_closes_connections_whose_handlers_still_wait(serve: Serve) -> None:
    reached = threading.Event()

    async def forever() -> Response:
        reached.set()
        await asyncio.get_running_loop().create_future()
        raise AssertionError("only cancellation ends this handler")

    running = serve(lambda _request, _exchange: forever())
    with socket.create_connection(running.address, timeout=5) as sock:
        sock.sendall(get("/hang"))
        assert reached.wait(5)
        began = time.monotonic()
        running.stop()
        assert time.monotonic() - began < 2
        assert sock.recv(4096) == b""
