"""The HTTP/1.1 server core shared by the fault proxy's admin API, the HTTP stub and the Pact callbacks.

Parsing and framing are h11's. This module feeds h11 from an `asyncio.Protocol` and writes answers
straight to the transport: no stream objects, and no task or timer per request, so a handler that
answers at once does so within the `data_received` call that completed the request. Each distinct
kind of answer is framed by h11 once and its bytes reused (see `_Connection._answer`).

A handler answers with a `Response`, or with an awaitable of one when it must wait (delays, the
admin API's locks, the test's thread), or `None` when it took the raw connection over (the stub's
wire-level faults: resets, garbage, dribbled bodies), in which case the connection is closed after.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

import h11

from ._net import LOOPBACK

READ_CHUNK = 65536
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_IDLE_TIMEOUT = 30.0
FRAMINGS_KEPT = 256
CLOSE_GRACE = 1.0  # how long stop() lets closing connections flush before it aborts them


@dataclass
class Request:
    """One parsed request; header names are lower-case, values decoded as latin-1."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str = "1.1"
    received_at: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return unquote(self.target.split("?", 1)[0])

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return default


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


class Exchange:
    """The raw side of one connection, for handlers that must misbehave on the wire."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def head_bytes(self, response: Response, *, chunked: bool = False) -> bytes:
        """The status line and headers h11 frames for `response`, for a handler writing the body itself.

        The head says `content-length: len(response.body)`, or `transfer-encoding: chunked` when
        `chunked`; the body bytes are then the handler's business (dribbled, malformed, cut short).
        """
        return self._connection.h11.send(_h11_response(response, chunked=chunked))

    def write(self, data: bytes) -> None:
        """Write to the client; ConnectionResetError once the connection is closing or gone."""
        transport = self._connection.transport
        if transport.is_closing():  # asyncio would drop the bytes, uvloop raise RuntimeError
            raise ConnectionResetError("Connection lost")
        transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's buffer is low again; ConnectionResetError once the client is gone."""
        await self._connection.drain()

    def abort(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        transport = self._connection.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


HandlerResult = Response | None | Awaitable[Response | None]
Handler = Callable[[Request, Exchange], HandlerResult]
ErrorResponder = Callable[[int, str], Response]
Framing = tuple[bytes, bool, bool]  # h11's head bytes, whether the body follows, whether the connection stays open


def plain_error(status: int, message: str) -> Response:
    return Response(status, message.encode() + b"\n", [("content-type", "text/plain; charset=utf-8")])


class HttpServer:
    """Serves `handler` on host:port (port 0 picks a free one; `address` says which).

    `idle_timeout` bounds each wait for the client's next bytes (between requests and within one);
    waiting on the handler or on a client that does not read its answers is not idling.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        max_body: int = DEFAULT_MAX_BODY,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        on_error: ErrorResponder = plain_error,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.on_error = on_error
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._handling: set[asyncio.Future[Response | None]] = set()  # awaited handlers, until they end
        self._framings: dict[tuple[object, ...], Framing] = {}

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)

    async def stop(self) -> None:
        """Stop listening, cancel handlers still running and close every connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        connections = list(self._connections)
        for connection in connections:
            connection.close()
        pending = list(self._handling)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if connections:
            await asyncio.wait([connection.closed for connection in connections], timeout=CLOSE_GRACE)
        late = [connection for connection in connections if not connection.closed.done()]
        for connection in late:  # clients that do not read what is still to be written to them
            connection.transport.abort()
        if late:
            await asyncio.wait([connection.closed for connection in late])


class _Connection(asyncio.Protocol):
    """One client connection: h11 fed from `data_received`, answers written to the transport.

    Requests are answered one at a time, in order (pipelined ones wait in h11's buffer). While a
    handler is awaited, or the client does not read, nothing more is parsed, and reading pauses
    once a request's worth of bytes is waiting.
    """

    transport: asyncio.Transport

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=READ_CHUNK)
        self.exchange = Exchange(self)
        self.handling: asyncio.Future[Response | None] | None = None  # the handler being awaited
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self._loop.create_future()  # done once the transport is gone
        self._head: h11.Request | None = None
        self._body = bytearray()
        self._eof = False
        self._closing = False
        self._reading_paused = False
        self._unparsed = 0  # bytes received while parsing waits
        self._writing_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._last_activity = self._loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- transport callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        self.server._connections.add(self)
        self._idle_timer = self._loop.call_at(self._last_activity + self.server.idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server._connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(ConnectionResetError("Connection lost"))
            self._drained.exception()  # retrieved here: the handler waiting on it may be gone
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._last_activity = self._loop.time()
        self.h11.receive_data(data)
        if self.handling is not None or self._writing_paused:
            self._unparsed += len(data)
            if self._unparsed > READ_CHUNK and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self._process()

    def eof_received(self) -> bool:
        self._eof = True
        if self.handling is None and not self._writing_paused:
            self._process()
        return True  # keep the write side open: a client that half-closes still gets its answer

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._resume()

    async def drain(self) -> None:
        if self.closed.done():
            raise ConnectionResetError("Connection lost")
        if not self._writing_paused:
            return
        if self._drained is None or self._drained.done():
            self._drained = self._loop.create_future()
        await self._drained

    def close(self) -> None:
        """Cancel the handler in flight, if any, and close after what was written is flushed."""
        self._closing = True
        if self.handling is not None:
            self.handling.cancel()
        self.transport.close()

    # -- requests --------------------------------------------------------------------------------
    def _process(self) -> None:
        """Parse and answer the complete requests the buffer holds, until a handler must be awaited
        or the client stops reading what we write."""
        while not (self._closing or self._writing_paused):
            connection = self.h11
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as error:
                self._refuse(error.error_status_hint, f"bad request: {error}")
                return
            kind = type(event)
            if kind is h11.Data:
                self._body += event.data  # type: ignore[union-attr]
                if len(self._body) > self.server.max_body:
                    self._refuse(413, "request body too large")
                    return
            elif kind is h11.Request:
                self._head = event  # type: ignore[assignment]
            elif kind is h11.EndOfMessage:
                if not self._dispatch():
                    return  # the handler is awaited, or the connection is closing
                if not self._next_cycle() and not self._eof:
                    return  # nothing more received yet
            elif event is h11.NEED_DATA:
                if self._eof:
                    if connection.their_state is h11.IDLE:  # gone between requests, or mid-head
                        self.close()
                        return
                    connection.receive_data(b"")  # next_event now ends the message or says what broke
                    continue
                if connection.they_are_waiting_for_100_continue:  # curl waits 1 s for this otherwise
                    self.transport.write(connection.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")))
                return
            else:  # ConnectionClosed, or PAUSED (a protocol switch we do not take)
                self.close()
                return

    def _dispatch(self) -> bool:
        """Hand the request just parsed to the handler; True when it was answered and the
        connection stays open, so the next request may be parsed now."""
        head = self._head
        assert head is not None
        request = Request(
            head.method.decode("ascii"),
            head.target.decode("latin-1"),
            [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in head.headers.raw_items()],
            bytes(self._body),
            head.http_version.decode("ascii"),
        )
        self._head = None
        self._body.clear()
        try:
            result = self.server.handler(request, self.exchange)
            if isinstance(result, Response) or result is None:
                return self._answer(request, result)
        except Exception as error:  # noqa: BLE001 - logged by the loop, the connection is closed
            self._handler_failed(error)
            return False
        task = asyncio.ensure_future(result)
        self.handling = task
        self.server._handling.add(task)
        task.add_done_callback(lambda done: self._handled(request, done))
        return False

    def _handled(self, request: Request, task: asyncio.Future[Response | None]) -> None:
        self.handling = None
        self.server._handling.discard(task)
        if task.cancelled():
            self.close()
            return
        error = task.exception()
        if error is not None:
            if isinstance(error, ConnectionError):  # the client went away while a fault wrote to it
                self.close()
            else:
                self._handler_failed(error)
            return
        try:
            keep_open = self._answer(request, task.result())
        except Exception as failure:  # noqa: BLE001 - logged by the loop, the connection is closed
            self._handler_failed(failure)
            return
        if keep_open:
            self._next_cycle()
            self._resume()

    def _answer(self, request: Request, response: Response | None) -> bool:
        """Send the handler's answer; True when the connection stays open for the next request.

        h11 frames every distinct kind of answer once (the head it writes depends only on the
        request's method, version and Connection header, and on the response's status, headers and
        body length); the same answer again reuses those bytes without running its state machine,
        and the next request is parsed by a fresh h11 connection (`_next_cycle`).
        """
        if response is None or self._closing:
            self.close()
            return False
        connection_tokens = tuple([value for name, value in request.headers if name == "connection"])
        key = (request.method, request.http_version, connection_tokens, response.status, len(response.body), *response.headers)
        framings = self.server._framings
        framing = framings.get(key)
        if framing is None:
            framing = self._frame(response, request.method == "HEAD")
            if framing is None:
                return False
            if len(framings) >= FRAMINGS_KEPT:  # answers that differ every time (dates, ids) are not worth keeping
                framings.clear()
            framings[key] = framing
        head, sends_body, keep_open = framing
        self.transport.write(head + response.body if sends_body else head)
        if not keep_open:
            self.close()
        return keep_open

    def _frame(self, response: Response, head_only: bool) -> Framing | None:
        """Send `response` through h11 to learn its head bytes and whether the connection stays open.

        The head always says content-length (see `_h11_response`), so h11 writes the body as it is.
        None, and the connection closes, when h11 will not send the response (a malformed header).
        """
        connection = self.h11
        try:
            head = connection.send(_h11_response(response))
            body = connection.send(h11.Data(data=response.body)) if response.body and not head_only else b""
            connection.send(_END_OF_MESSAGE)
        except h11.LocalProtocolError:
            self.close()
            return None
        return head, bool(body), connection.our_state is h11.DONE and connection.their_state is h11.DONE

    def _next_cycle(self) -> bool:
        """A fresh h11 connection for the next request, fed what the client already sent; True if anything."""
        unparsed = self.h11.trailing_data[0]
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=READ_CHUNK)
        if unparsed:
            self.h11.receive_data(unparsed)
        return bool(unparsed)

    def _resume(self) -> None:
        """Go on parsing after an awaited handler or a full write buffer."""
        if self.handling is not None or self._writing_paused or self._closing:
            return
        self._last_activity = self._loop.time()
        self._unparsed = 0
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        self._process()

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request h11 refused (or one too large), then close."""
        response = self.server.on_error(status, message)
        framing = self._frame(response, head_only=False)
        if framing is not None:
            head, sends_body, _ = framing
            self.transport.write(head + response.body if sends_body else head)
        self.close()

    def _handler_failed(self, error: BaseException) -> None:
        self._loop.call_exception_handler({"message": "HTTP handler failed", "exception": error, "protocol": self})
        self.close()

    def _check_idle(self) -> None:
        """Close a connection whose client sent nothing for `idle_timeout` while we waited for it."""
        now = self._loop.time()
        waiting_for_client = self.handling is None and not self._writing_paused
        if waiting_for_client and now - self._last_activity >= self.server.idle_timeout:
            self.close()
            return
        since = self._last_activity if waiting_for_client else now
        self._idle_timer = self._loop.call_at(since + self.server.idle_timeout, self._check_idle)


def _h11_response(response: Response, *, chunked: bool = False) -> h11.Response:
    """The h11 event for `response`'s head, with the framing header h11 needs (content-length or chunked)."""
    framing = ("content-length", "transfer-encoding")
    headers = [(k, v) for k, v in response.headers if k.lower() not in framing]
    if chunked:
        headers.append(("transfer-encoding", "chunked"))
    elif response.status not in (204, 304) and not 100 <= response.status < 200:
        headers.append(("content-length", str(len(response.body))))
    return h11.Response(status_code=response.status, headers=headers, reason=_REASONS.get(response.status, b""))


_END_OF_MESSAGE = h11.EndOfMessage()
_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
