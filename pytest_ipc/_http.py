"""The HTTP/1.1 server core shared by the fault proxy's admin API, the HTTP stub and the Pact callbacks.

Parsing and framing are h11's. This module feeds h11 from an `asyncio.Protocol` and writes answers
straight to the transport: no stream objects, and no task or timer per request, so a handler that
answers at once does so within the `data_received` call that completed the request. Each distinct
kind of answer is framed by h11 once and its bytes reused (see `_Connection._answer`).

A handler answers with a `Response`, or with an awaitable of one when it must wait (delays, the
admin API's locks, the test's thread), or `None` when it took the raw connection over (the stub's
wire-level faults: resets, garbage, dribbled bodies), in which case the connection is closed after.

Whatever clients do, a server stays fair and bounded (`Limits`): one request per turn of the loop
when a client pipelines, a cap on connections, a deadline for each request's head from its first
byte, a budget for the bodies being received on all connections together, 400 and close for a
request with both Content-Length and Transfer-Encoding (RFC 9112 §6.1), and 403 for a Host header
that names neither loopback nor an allowed host (DNS rebinding). Refusals are answered, then the connection
*lingers*: it sends its FIN and drops what the client still sends for a moment, so the client reads
the answer instead of a reset.

A server may listen on several ports at once (`HttpServer.listen`), each `Listener` with its own
handler and connections: the stub gives each test a port of its own and keeps the previous ones
open for late requests.

Given an `ssl.SSLContext` the server speaks HTTPS: asyncio runs the handshake before a connection
is made (`AlertingTlsProtocol`, so a refused client reads the TLS alert), and each request carries
its client certificate's subject when the client presented one (mutual TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

import h11

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.tls.alerting import AlertingTlsProtocol

READ_CHUNK = 65536
FRAMINGS_KEPT = 256
HOST_VERDICTS_KEPT = 256
CLOSE_GRACE = 1.0  # how long closing connections may flush before they are aborted
LINGER = 1.0  # how long a refused connection drops what the client still sends before it closes
LINGERING_MAX = 64  # refused connections lingering at once; beyond that a refusal closes at once
BACKLOG = 1024  # a burst of connections waits in the kernel's queue rather than being dropped
LOOPBACK_NAMES = frozenset({"localhost"})  # loopback IP literals are allowed as every IP literal is
ANY_HOST = "*"


class LimitsError(IpcUsageError):
    """A `Limits` value the server cannot work with; the message names it and the valid range."""


@dataclass(frozen=True)
class Limits:
    """The bounds a server keeps whatever its clients do: sizes in bytes, times in seconds.

    `max_body` bounds one request's body (a larger Content-Length gets 413 before a byte of the body
    is read); `body_budget` bounds the bodies being received on all connections together (a request
    that would exceed it gets 503 and the connection closes); `max_connections` bounds the open
    connections (more are answered 503 and closed; at most half the process's descriptor limit, so
    the listener never stalls on EMFILE); `head_timeout` counts from a request's first byte until its
    head is in, and is never restarted by more bytes (a client dribbling a head is answered 408 and
    cut); `idle_timeout` bounds each wait for the client while nothing else is due: for the first byte
    of the next request, or for more of a body (a slow upload through a bandwidth fault goes on).
    """

    max_body: int = 1 << 20
    body_budget: int = 32 << 20
    max_connections: int = 512
    head_timeout: float = 10.0
    idle_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_body", "max_connections", "head_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise LimitsError(f"Limits({name}={getattr(self, name)!r}): expected a number above 0")
        if self.body_budget < self.max_body:
            raise LimitsError(
                f"Limits(body_budget={self.body_budget}) is below max_body={self.max_body}: no request of the largest "
                f"allowed size could ever be received; give a budget of at least max_body"
            )


DEFAULT_LIMITS = Limits()


@dataclass
class Request:
    """One parsed request; header names are lower-case, values decoded as latin-1."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str = "1.1"
    received_at: float = field(default_factory=time.monotonic)
    client_subject: str | None = None  # RFC 4514 subject of the client's TLS certificate, when it sent one

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
        _abort(self._connection.transport)


HandlerResult = Response | None | Awaitable[Response | None]
Handler = Callable[[Request, Exchange], HandlerResult]
ErrorResponder = Callable[[int, str], Response]
Framing = tuple[bytes, bool, bool]  # h11's head bytes, whether the body follows, whether the connection stays open


def plain_error(status: int, message: str) -> Response:
    return Response(status, message.encode() + b"\n", [("content-type", "text/plain; charset=utf-8")])


def host_allowed(value: str, names: frozenset[str]) -> bool:
    """Whether a Host header names this server: an IP literal, or one of `names` (lower-case, no port).

    DNS rebinding needs a name the attacker controls, so any IP literal is safe to accept (clients
    reaching a server through a proxy or a published container port use one); names must be known.
    """
    if ANY_HOST in names:
        return True
    text = value.strip().lower()
    if text.startswith("["):
        name, bracket, _port = text[1:].partition("]")
        if not bracket:
            return False
    else:
        name = text.rpartition(":")[0] if ":" in text else text
    if name in names:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HttpServer:
    """Serves `handler` on host:port (port 0 picks a free one; `address` says which), within `limits`.

    Host headers must be an IP literal, `localhost`, the bound host's name, or one of
    `allowed_hosts` (`"*"` allows any: only for a server deliberately reached by names it cannot
    know). `on_error` makes the answers to refused requests. `tls` makes it serve HTTPS.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        limits: Limits = DEFAULT_LIMITS,
        allowed_hosts: Iterable[str] = (),
        on_error: ErrorResponder = plain_error,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.host = host
        self.port = port
        self.limits = limits
        self.max_connections = limits.max_connections  # lowered at start to fit the descriptor limit
        self.allowed_hosts = frozenset(name.lower() for name in (*LOOPBACK_NAMES, host, *allowed_hosts))
        self.on_error = on_error
        self.listeners: list[Listener] = []  # open listeners, the newest last
        self.bodies_reserved = 0  # bytes of bodies being received, on all connections
        self.lingering = 0  # refused connections waiting for their client to go
        self._family = socket.AF_INET
        self._bind_host = host
        self._connections: set[_Connection] = set()
        self._handling: set[asyncio.Future[Response | None]] = set()  # awaited handlers, until they end
        self._framings: dict[tuple[object, ...], Framing] = {}
        self._host_verdicts: dict[bytes, bool] = {}

    @property
    def listener(self) -> Listener:
        """The newest listener: where new clients are sent."""
        if not self.listeners:
            raise RuntimeError("server not started")
        return self.listeners[-1]

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.address

    async def start(self) -> None:
        """Resolve the host once and listen on the configured port."""
        self.max_connections = min(self.limits.max_connections, _descriptor_share())
        self._family, self._bind_host = _resolve(self.host)
        await self.listen(self.port)

    async def listen(self, port: int = 0) -> Listener:
        """Listen on one more port of the host (0: a free one), serving `handler`; it becomes `listener`.

        The socket is bound here and handed to the loop, so the port is ours from the moment it is
        reported (no window in which another process could take it).
        """
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self._family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((self._bind_host, port))
            except OSError as error:  # asyncio's wording, which callers know
                address = (self._bind_host, port)
                reason = (error.strerror or str(error)).lower()
                raise OSError(error.errno, f"error while attempting to bind on address {address!r}: {reason}") from None
            sock.setblocking(False)
            listener = Listener(self, self.handler, sock.getsockname()[:2])
            loop = asyncio.get_running_loop()
            tls = self.tls
            factory: Callable[[], asyncio.BaseProtocol] = (
                (lambda: _Connection(listener)) if tls is None else (lambda: AlertingTlsProtocol(loop, _Connection(listener), tls))
            )
            listener.serving = await loop.create_server(factory, sock=sock, backlog=BACKLOG)
        except BaseException:
            sock.close()
            raise
        self.listeners.append(listener)
        return listener

    async def stop(self) -> None:
        """Stop listening, cancel handlers still running and close every connection."""
        for listener in list(self.listeners):
            listener.stop_listening()
        pending = list(self._handling)
        for task in pending:
            task.cancel()
        await _close_all(list(self._connections), CLOSE_GRACE)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def allow_host(self, name: str) -> None:
        """Accept `name` in Host headers from now on (a name given to the server after it started)."""
        self.allowed_hosts = self.allowed_hosts | {name.lower()}
        self._host_verdicts.clear()

    def host_allowed(self, value: bytes) -> bool:
        """`host_allowed` for this server's names, remembered per distinct header value."""
        verdict = self._host_verdicts.get(value)
        if verdict is None:
            verdict = host_allowed(value.decode("latin-1"), self.allowed_hosts)
            if len(self._host_verdicts) >= HOST_VERDICTS_KEPT:
                self._host_verdicts.clear()
            self._host_verdicts[value] = verdict
        return verdict


class Listener:
    """One listening socket, the handler its requests go to, and the connections it accepted.

    The handler may be swapped while it listens: the stub answers the requests a finished test's
    clients still send with a refusal of its own.
    """

    def __init__(self, server: HttpServer, handler: Handler, address: tuple[str, int]) -> None:
        self.server = server
        self.handler = handler
        self.address: tuple[str, int] = address
        self.connections: set[_Connection] = set()
        self.serving: asyncio.Server | None = None  # set once the loop serves the socket

    async def close_connections(self) -> None:
        """Close every connection it accepted: handlers cancelled, pending answers dropped."""
        connections = list(self.connections)
        handlers = [connection.handling for connection in connections if connection.handling is not None]
        for connection in connections:
            if connection.transport.get_write_buffer_size():
                _abort(connection.transport)  # whatever is left to write belongs to a test that ended
        await _close_all(connections, CLOSE_GRACE)
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)

    def stop_listening(self) -> None:
        """Close the socket (its port refuses from now on) and the connections it accepted."""
        if self in self.server.listeners:
            self.server.listeners.remove(self)
        if self.serving is not None:
            self.serving.close()
        for connection in list(self.connections):
            connection.close()


async def _close_all(connections: list[_Connection], grace: float) -> None:
    """Close `connections`, give them `grace` seconds to flush, then abort those still open."""
    for connection in connections:
        connection.close()
    open_ones = [connection.closed for connection in connections if not connection.closed.done()]
    if open_ones:
        await asyncio.wait(open_ones, timeout=grace)
    late = [connection for connection in connections if not connection.closed.done()]
    for connection in late:  # clients that do not read what is still to be written to them
        connection.transport.abort()
    if late:
        await asyncio.wait([connection.closed for connection in late])


class _Connection(asyncio.Protocol):
    """One client connection: h11 fed from `data_received`, answers written to the transport.

    Requests are answered one at a time, in order. Pipelined ones wait in h11's buffer and are taken
    one per turn of the loop, so other connections are served in between. While a handler is
    awaited, a turn is awaited, or the client does not read, nothing more is parsed, and reading
    pauses once a request's worth of bytes is waiting.
    """

    transport: asyncio.Transport

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.server = listener.server
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=READ_CHUNK)
        self.exchange = Exchange(self)
        self.handling: asyncio.Future[Response | None] | None = None  # the handler being awaited
        self.client_subject: str | None = None  # the TLS client certificate's subject, if one was presented
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self._loop.create_future()  # done once the transport is gone
        self._head: h11.Request | None = None
        self._body = bytearray()
        self._reserved = 0  # bytes of the shared body budget this request holds
        self._eof = False
        self._closing = False
        self._lingering = False
        self._yielded = False  # the next pipelined request waits for the loop's next turn
        self._reading_paused = False
        self._unparsed = 0  # bytes received while parsing waits
        self._writing_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._receiving = False  # some bytes of the current request's head have arrived
        self._deadline = 0.0  # loop time by which the client must have sent what we wait for
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # -- transport callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        server = self.server
        if server.tls is not None:
            self.client_subject = certificate_subject(transport.get_extra_info("peercert"))
        server._connections.add(self)
        self.listener.connections.add(self)
        self._deadline = self._loop.time() + server.limits.idle_timeout
        self._timer_at = self._deadline
        self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        if len(server._connections) - server.lingering > server.max_connections:
            self._refuse(503, f"too many connections: this server serves at most {server.max_connections} at once; retry later")

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._release()
        self.server._connections.discard(self)
        self.listener.connections.discard(self)
        if self._lingering:
            self._lingering = False
            self.server.lingering -= 1
        if self._timer is not None:
            self._timer.cancel()
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(ConnectionResetError("Connection lost"))
            self._drained.exception()  # retrieved here: the handler waiting on it may be gone
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # refused or closing: what the client still sends is dropped
        if self._head is not None:  # more of a body: the client is making progress
            self._deadline = self._loop.time() + self.server.limits.idle_timeout
        elif not self._receiving:
            self._receiving = True
            self._watch(self._loop.time() + self.server.limits.head_timeout)
        self.h11.receive_data(data)
        if self.handling is not None or self._writing_paused or self._yielded:
            self._unparsed += len(data)
            if self._unparsed > READ_CHUNK and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self._process()

    def eof_received(self) -> bool:
        half_close = self.server.tls is None  # TLS has no half-close: asyncio closes after a TLS client's EOF
        if self._closing:
            self.transport.close()
            return half_close
        self._eof = True
        if self.handling is None and not self._writing_paused and not self._yielded:
            self._process()
        return half_close  # keep the write side open: a client that half-closes still gets its answer

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
        self._release()
        if self.handling is not None:
            self.handling.cancel()
        self.transport.close()

    # -- requests --------------------------------------------------------------------------------
    def _process(self) -> None:
        """Parse and answer the next complete request the buffer holds, if any; a pipelined one after
        it waits for the loop's next turn (`_take_turn`), so one client cannot starve the others."""
        while not (self._closing or self._writing_paused):
            connection = self.h11
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as error:
                self._refuse(error.error_status_hint, f"bad request: {error}")
                return
            kind = type(event)
            if kind is h11.Data:
                body = self._body
                body += event.data  # type: ignore[union-attr]  # `type(event) is` does not narrow
                if len(body) > self._reserved and not self._reserve(len(body)):  # a chunked body growing
                    return
            elif kind is h11.Request:
                self._head = event  # type: ignore[assignment]
                if not self._admit(self._head):  # type: ignore[arg-type]
                    return
                self._deadline = self._loop.time() + self.server.limits.idle_timeout  # for the body, if any
            elif kind is h11.EndOfMessage:
                if not self._dispatch():
                    return  # the handler is awaited, or the connection is closing
                if self._next_cycle():
                    self._yielded = True  # more is buffered: answer it on the loop's next turn
                    self._loop.call_soon(self._take_turn)
                    return
                if not self._eof:
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

    def _take_turn(self) -> None:
        self._yielded = False
        self._resume()

    def _admit(self, head: h11.Request) -> bool:
        """Check a request's head before its body is read; False when it was refused."""
        length = encoding = host = None
        for name, value in head.headers:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                encoding = value
            elif name == b"host":
                host = value
        if length is not None and encoding is not None:
            self._refuse(400, "bad request: both Content-Length and Transfer-Encoding; send one (RFC 9112 §6.1)")
            return False
        if host is not None and not self.server.host_allowed(host):
            self._refuse(
                403,
                f"Host {host.decode('latin-1')!r} is not allowed: expected an IP address, localhost or one of the server's allowed "
                f"hosts ({', '.join(sorted(self.server.allowed_hosts))}); a name rebound to this address is refused",
            )
            return False
        return length is None or self._reserve(int(length))

    def _reserve(self, size: int) -> bool:
        """Hold `size` bytes of the shared body budget for this request's body; False when it was refused."""
        server = self.server
        limits = server.limits
        if size > limits.max_body:
            self._refuse(413, f"request body too large: {size} bytes, over the limit of {limits.max_body} bytes")
            return False
        more = size - self._reserved
        if server.bodies_reserved + more > limits.body_budget:
            self._refuse(
                503,
                f"busy: {server.bodies_reserved} bytes of request bodies are being received; {more} more would exceed "
                f"the budget of {limits.body_budget} bytes; retry later",
            )
            return False
        server.bodies_reserved += more
        self._reserved = size
        return True

    def _release(self) -> None:
        self.server.bodies_reserved -= self._reserved
        self._reserved = 0

    def _dispatch(self) -> bool:
        """Hand the request just parsed to its listener's handler; True when it was answered and the
        connection stays open, so the next request may be parsed now."""
        head = self._head
        assert head is not None
        request = Request(
            head.method.decode("ascii"),
            head.target.decode("latin-1"),
            [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in head.headers.raw_items()],
            bytes(self._body),
            head.http_version.decode("ascii"),
            client_subject=self.client_subject,
        )
        self._head = None
        self._body.clear()
        self._release()
        try:
            result = self.listener.handler(request, self.exchange)
            if isinstance(result, Response) or result is None:
                return self._answer(request, result)
        except Exception as error:  # logged by the loop, the connection is closed
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
        except Exception as failure:  # logged by the loop, the connection is closed
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
        """A fresh h11 connection for the next request, fed what the client already sent; True if anything.

        The deadline starts again: the head timeout for bytes already here, else the idle timeout.
        """
        unparsed = self.h11.trailing_data[0]
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=READ_CHUNK)
        limits = self.server.limits
        self._receiving = bool(unparsed)
        if unparsed:
            self.h11.receive_data(unparsed)
        self._watch(self._loop.time() + (limits.head_timeout if unparsed else limits.idle_timeout))
        return bool(unparsed)

    def _resume(self) -> None:
        """Go on parsing after an awaited handler, a full write buffer or a turn of the loop."""
        if self.handling is not None or self._writing_paused or self._yielded or self._closing:
            return
        self._unparsed = 0
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        self._process()

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request we will not serve (or a connection over the cap), then linger and close."""
        response = self.server.on_error(status, message)
        if not any(name.lower() == "connection" for name, _ in response.headers):
            response.headers.append(("connection", "close"))
        framing = self._frame(response, head_only=False)
        if framing is not None:
            head, sends_body, _ = framing
            self.transport.write(head + response.body if sends_body else head)
        self._linger()

    def _linger(self) -> None:
        """Send our FIN and drop what the client still sends for up to LINGER seconds, then close.

        Closing at once with unread bytes would send an RST, and the client could lose the answer.
        """
        self._closing = True
        self._release()
        server = self.server
        if server.lingering >= LINGERING_MAX or not self.transport.can_write_eof():
            self.transport.close()
            return
        self._lingering = True
        server.lingering += 1
        self.transport.write_eof()
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        self._watch(self._loop.time() + LINGER)

    def _handler_failed(self, error: BaseException) -> None:
        self._loop.call_exception_handler({"message": "HTTP handler failed", "exception": error, "protocol": self})
        self.close()

    def _watch(self, deadline: float) -> None:
        """Wait for the client until `deadline` (loop time); the timer is moved only when it must fire earlier."""
        self._deadline = deadline
        if deadline < self._timer_at and self._timer is not None:
            self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline

    def _check_deadline(self) -> None:
        """Cut a client that missed its deadline while we waited for it: 408 mid-request (a head not in
        within head_timeout, a body stalled for idle_timeout), a plain close between requests; waiting
        on a handler, a full write buffer or a turn does not count."""
        now = self._loop.time()
        if self._lingering:
            self.transport.close()
            return
        if self._closing:
            return
        busy = self.handling is not None or self._writing_paused or self._yielded
        limits = self.server.limits
        if busy:
            self._deadline = max(self._deadline, now + limits.idle_timeout)
        elif now >= self._deadline:
            if self._head is not None:
                self._refuse(408, f"request body stalled: nothing more for {limits.idle_timeout} s")
            elif self._receiving:
                self._refuse(408, f"request head not received within {limits.head_timeout} s of its first byte")
            else:
                self.close()
            return
        self._timer_at = self._deadline
        self._timer = self._loop.call_at(self._deadline, self._check_deadline)


#: Short names of RFC 4514 for the attributes `ssl.SSLSocket.getpeercert` spells out.
RFC4514_NAMES = {
    "commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
    "localityName": "L", "stateOrProvinceName": "ST", "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID",
}


def certificate_subject(peercert: object) -> str | None:
    """The RFC 4514 subject (as `cryptography` writes it: last RDN first) of a `getpeercert()` dict."""
    if not isinstance(peercert, dict) or not peercert.get("subject"):
        return None
    parts = []
    for rdn in reversed(peercert["subject"]):
        parts.append("+".join(f"{RFC4514_NAMES.get(name, name)}={_escape(value)}" for name, value in rdn))
    return ",".join(parts)


def _escape(value: str) -> str:
    """RFC 4514 escaping of an attribute value (special characters; a leading '#' or space)."""
    escaped = "".join(f"\\{char}" if char in ',+"\\<>;' else char for char in value)
    return "\\" + escaped if escaped[:1] in ("#", " ") else escaped


def _abort(transport: asyncio.Transport) -> None:
    """Close with a TCP RST: the peer learns at once that nothing more will come."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _resolve(host: str) -> tuple[socket.AddressFamily, str]:
    """The address family and literal address to bind for `host` (an IP literal or a name)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        return family, str(sockaddr[0])
    return (socket.AF_INET6 if address.version == 6 else socket.AF_INET), host


def _descriptor_share() -> int:
    """Half the process's soft descriptor limit: a connection cap under it keeps accept() working."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to respect
        return sys.maxsize
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return sys.maxsize if soft == resource.RLIM_INFINITY else max(1, soft // 2)


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
