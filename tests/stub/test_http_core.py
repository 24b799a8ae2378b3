"""The HTTP core under the stub, the admin API and the Pact callbacks, on both event loops, over raw
sockets: keep-alive and pipelining, h11's framing per request, idle and request deadlines, half-closed
and non-reading clients, failing handlers, stop() with handlers still waiting, and the bounds a
hostile client meets (fair turns for pipelines, connection cap, body budget, CL+TE, Host check)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_ipc._http import Exchange, Handler, HandlerResult, HttpServer, Limits, Request, Response
from pytest_ipc._loop import EVENT_LOOP_ENV, LoopThread

Serve = Callable[..., "Running"]
HELLO = Response(200, b"hello", [("content-type", "text/plain")])
HELLO_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"


@pytest.fixture(
    params=[
        "asyncio",
        pytest.param("uvloop", marks=pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed")),
    ]
)
def serve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Starts an HttpServer on its own loop thread of the parametrised kind; stops them all after."""
    monkeypatch.setenv(EVENT_LOOP_ENV, request.param)
    started: list[Running] = []

    def start(handler: Handler, **options: Any) -> Running:
        started.append(Running(handler, **options))
        return started[-1]

    yield start
    for running in started:
        running.stop()


class Running:
    """An HttpServer on a loop thread of its own."""

    def __init__(self, handler: Handler, **options: Any) -> None:
        self.loop = LoopThread("test-http-core").start()
        self.server = HttpServer(handler, **options)
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
    return "\r\n".join([f"{method} {path} HTTP/{version}", "host: localhost", *extra, "", ""]).encode()


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


def test_an_idle_client_is_closed_after_the_idle_timeout(serve: Serve) -> None:
    server = serve(by_path, limits=Limits(idle_timeout=0.3))
    for data in (b"", get("/now")):
        began = time.monotonic()
        answer = talk(server, data)
        assert 0.3 <= time.monotonic() - began < 3
        assert answer == b"" or answer.endswith(b"/now")


def test_a_client_dribbling_a_head_is_cut_at_the_head_deadline(serve: Serve) -> None:
    """Every byte arrives well within the idle timeout, but the head never completes: 408, then close,
    once head_timeout has passed since its first byte (bytes do not restart the clock)."""
    server = serve(by_path, limits=Limits(head_timeout=0.5, idle_timeout=5))
    head = get("/slow", "x-slow: " + "a" * 200)[:-2]  # never the final CRLF: dribbled, it would take 4 s
    with socket.create_connection(server.address, timeout=5) as sock:
        began = time.monotonic()
        with contextlib.suppress(OSError):  # the server may cut us mid-send: that is the point
            for byte in head:
                if select.select([sock], [], [], 0)[0]:
                    break  # answered or closed
                sock.send(bytes([byte]))
                time.sleep(0.02)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert 0.5 <= time.monotonic() - began < 3, "cut at the head's deadline, not at the idle timeout"


def test_a_slow_body_goes_on_while_it_progresses_and_is_cut_once_it_stalls(serve: Serve) -> None:
    """An upload through a bandwidth fault may take longer than any head: each piece restarts the
    idle timer. A body that stops coming is answered 408 after the idle timeout."""
    server = serve(lambda request, _exchange: Response(200, request.body), limits=Limits(head_timeout=0.3, idle_timeout=0.3))
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(get("/upload", "content-length: 8", method="POST"))
        began = time.monotonic()
        for piece in (b"ab", b"cd", b"ef", b"gh"):
            time.sleep(0.15)  # the client's pace: well within the idle timeout, longer than the head's deadline in all
            sock.sendall(piece)
        assert sock.recv(4096).endswith(b"abcdefgh") and time.monotonic() - began > 0.5
        sock.sendall(get("/upload", "content-length: 8", method="POST") + b"abc")
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes; a reset ends it too (what came before it is kept)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_a_handler_slower_than_the_deadlines_still_answers(serve: Serve) -> None:
    async def slow(_request: Request) -> Response:
        await asyncio.sleep(0.4)
        return HELLO

    server = serve(lambda request, _exchange: slow(request), limits=Limits(head_timeout=0.1, idle_timeout=0.1))
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


def recording(seen: list[str]) -> Handler:
    """A handler that notes each path it is given and answers it at once."""

    def handler(request: Request, _exchange: Exchange) -> Response:
        seen.append(request.path)
        return Response(200, request.path.encode())

    return handler


def test_both_content_length_and_transfer_encoding_is_refused_and_nothing_smuggled_is_served(serve: Serve) -> None:
    """RFC 9112 §6.1: the server must close after answering such a request; the bytes behind it (here a
    smuggled second request, hidden by the disagreeing framings) are never parsed."""
    seen: list[str] = []
    server = serve(recording(seen))
    smuggling = (
        b"POST /first HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n"
        b"0\r\n\r\n" + get("/smuggled")
    )
    answer = talk(server, smuggling)
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.count(b"HTTP/1.1 ") == 1, answer
    assert b"connection: close" in answer.lower() and b"Transfer-Encoding" in answer
    assert seen == []


def test_a_host_header_must_name_loopback_an_ip_or_an_allowed_host(serve: Serve) -> None:
    """DNS rebinding: a page whose name now resolves to 127.0.0.1 sends its own name as Host."""
    seen: list[str] = []
    server = serve(recording(seen), allowed_hosts=["stub.internal"])
    allowed = ["localhost", "LocalHost:8080", "127.0.0.1", f"127.0.0.1:{server.address[1]}", "[::1]:80", "10.1.2.3", "stub.internal:1"]
    refused = ["rebound.example", "rebound.example:80", "localhost.rebound.example", "127.0.0.1.nip.io", "[::1", ""]
    for host in allowed:
        assert talk(server, get("/ok", "connection: close").replace(b"host: localhost", f"host: {host}".encode())).endswith(b"/ok"), host
    for host in refused:
        answer = talk(server, get("/no").replace(b"host: localhost", f"host: {host}".encode()))
        assert answer.startswith(b"HTTP/1.1 403 ") and b"is not allowed" in answer, (host, answer)
    assert seen == ["/ok"] * len(allowed)
    anyone = serve(recording(seen), allowed_hosts=["*"])
    assert talk(anyone, get("/any", "connection: close").replace(b"localhost", b"rebound.example")).endswith(b"/any")


def test_an_absurd_content_length_is_refused_at_once_and_the_client_reads_the_413(serve: Serve) -> None:
    """413 as soon as the head is in, not after waiting for a body that will never come; a client that
    sends its body anyway still reads the answer (the server drops the rest, then closes)."""
    seen: list[str] = []
    server = serve(recording(seen), limits=Limits(max_body=1000))
    began = time.monotonic()
    answer = talk(server, get("/upload", f"content-length: {10**15}", method="POST"))
    assert answer.startswith(b"HTTP/1.1 413 ") and b"1000000000000000 bytes" in answer, answer
    assert time.monotonic() - began < 2
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(get("/upload", "content-length: 200000", method="POST"))
        with contextlib.suppress(OSError):
            sock.sendall(b"x" * 200_000)
        assert read_all(sock).startswith(b"HTTP/1.1 413 ")
    assert seen == []


def test_bodies_in_flight_share_one_budget_across_connections(serve: Serve) -> None:
    """A parked body holds its share of the budget; a request that would exceed it gets 503 and close;
    once the parked body arrives, its share is free again."""
    seen: list[str] = []
    server = serve(recording(seen), limits=Limits(max_body=1000, body_budget=1500))
    with socket.create_connection(server.address, timeout=5) as parked:
        parked.sendall(get("/parked", "content-length: 1000", "expect: 100-continue", method="POST"))
        assert parked.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"  # sent once the head was admitted
        parked.sendall(b"x" * 10)
        refused = talk(server, get("/second", "content-length: 600", method="POST") + b"y" * 600)
        assert refused.startswith(b"HTTP/1.1 503 ") and b"budget of 1500 bytes" in refused, refused
        chunked = get("/chunked", "transfer-encoding: chunked", method="POST") + b"258\r\n" + b"z" * 600 + b"\r\n0\r\n\r\n"
        assert talk(server, chunked).startswith(b"HTTP/1.1 503 ")
        parked.sendall(b"x" * 990)
        assert parked.recv(4096).endswith(b"/parked")
    assert talk(server, get("/third", "content-length: 1000", "connection: close", method="POST") + b"w" * 1000).endswith(b"/third")
    assert seen == ["/parked", "/third"]


def test_connections_over_the_cap_are_answered_503_and_closed_while_others_are_served(serve: Serve) -> None:
    server = serve(by_path, limits=Limits(max_connections=2))
    first, second = (socket.create_connection(server.address, timeout=5) for _ in range(2))
    try:
        for sock in (first, second):
            sock.sendall(get("/held"))
            assert sock.recv(4096).endswith(b"/held")
        over = talk(server, get("/over"))
        assert over.startswith(b"HTTP/1.1 503 ") and b"at most 2" in over, over
        first.close()
        deadline = time.monotonic() + 5
        while (answer := talk(server, get("/again", "connection: close"))).startswith(b"HTTP/1.1 503 "):
            assert time.monotonic() < deadline, "a closed connection's place was never given back"
        assert answer.endswith(b"/again")
    finally:
        first.close()
        second.close()


def test_a_pipeline_is_answered_one_request_per_turn_so_another_connection_gets_in_between(serve: Serve) -> None:
    """A greedy connection has 1,000 requests buffered behind one whose handler waits; a polite one has
    one request behind another such handler, released just after. Answered all in one callback (as
    before), the polite request would come after the whole pipeline; taken one per turn, it comes
    within the first few."""
    order: list[str] = []
    gates = {"/gate-greedy": asyncio.Event(), "/gate-polite": asyncio.Event()}
    waiting = threading.Semaphore(0)

    async def wait_at(gate: str) -> Response:
        waiting.release()
        await gates[gate].wait()
        if gate == "/gate-greedy":
            gates["/gate-polite"].set()  # the polite handler ends on the loop's next turn, after this one
        return HELLO

    def handler(request: Request, _exchange: Exchange) -> HandlerResult:
        if request.path in gates:
            return wait_at(request.path)
        order.append(request.path)
        return HELLO

    running = serve(handler)
    count = 1000
    with socket.create_connection(running.address, timeout=5) as greedy, socket.create_connection(running.address, timeout=5) as polite:
        greedy.sendall(get("/gate-greedy") + get("/greedy") * count)
        polite.sendall(get("/gate-polite") + get("/polite"))
        assert waiting.acquire(timeout=5) and waiting.acquire(timeout=5)
        running.loop.loop.call_soon_threadsafe(gates["/gate-greedy"].set)
        answers = [b""] * 2
        for index, (sock, wanted) in enumerate([(polite, 2), (greedy, count + 1)]):
            while answers[index].count(b"HTTP/1.1 200 ") < wanted:
                answers[index] += sock.recv(65536)
    assert order.count("/greedy") == count
    assert order.index("/polite") < 5, f"the polite request came after {order.index('/polite')} pipelined ones"
