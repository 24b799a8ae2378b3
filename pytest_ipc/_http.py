"""The HTTP/1.1 server core shared by the fault proxy's admin API and the HTTP stub.

Parsing and framing are h11's; this module only drives it over asyncio streams. A handler returns a
`Response` for the ordinary path, or `None` when it took the raw connection over (the stub's
wire-level faults: resets, garbage, dribbled bodies), in which case the connection is closed after.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote

import h11

from ._net import LOOPBACK

READ_CHUNK = 65536
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_IDLE_TIMEOUT = 30.0


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


@dataclass
class Exchange:
    """The raw side of one request, for handlers that must misbehave on the wire."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    connection: h11.Connection | None = None

    def head_bytes(self, response: Response, *, chunked: bool = False) -> bytes:
        """The status line and headers h11 frames for `response`, for a handler writing the body itself.

        The head says `content-length: len(response.body)`, or `transfer-encoding: chunked` when
        `chunked`; the body bytes are then the handler's business (dribbled, malformed, cut short).
        """
        if self.connection is None:
            raise RuntimeError("this exchange has no h11 connection to frame a response head with")
        headers = _framed_headers(response, chunked=chunked)
        reason = _REASONS.get(response.status, b"")
        return self.connection.send(h11.Response(status_code=response.status, headers=headers, reason=reason))

    def abort(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            import socket
            import struct

            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Request, Exchange], Awaitable[Response | None]]
ErrorResponder = Callable[[int, str], Response]


def plain_error(status: int, message: str) -> Response:
    return Response(status, message.encode() + b"\n", [("content-type", "text/plain; charset=utf-8")])


class HttpServer:
    """Serves `handler` on host:port (port 0 picks a free one; `address` says which)."""

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
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port, limit=READ_CHUNK)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve_requests(reader, writer)
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # stop() (or a stub's reset) cancelled this connection. Nothing awaits a connection
            # task, and asyncio's streams log a cancelled one as an error, so end it normally.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=READ_CHUNK)
        exchange = Exchange(reader, writer, connection)
        while True:
            try:
                request = await self._read_request(connection, reader, writer)
            except h11.RemoteProtocolError as error:
                status = error.error_status_hint
                await self._send(connection, writer, self.on_error(status, f"bad request: {error}"))
                return
            except _BodyTooLarge:
                await self._send(connection, writer, self.on_error(413, "request body too large"))
                return
            if request is None:
                return
            response = await self.handler(request, exchange)
            if response is None:
                return
            await self._send(connection, writer, response, head_only=request.method == "HEAD")
            if connection.our_state is h11.MUST_CLOSE or connection.their_state is h11.MUST_CLOSE:
                return
            try:
                connection.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _read_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                if connection.they_are_waiting_for_100_continue:  # curl waits 1 s for this otherwise
                    interim = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                    writer.write(connection.send(interim))
                async with asyncio.timeout(self.idle_timeout):  # no task per read, unlike wait_for
                    data = await reader.read(READ_CHUNK)
                connection.receive_data(data)
                if not data and head is None and connection.their_state is h11.IDLE:
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body:
                    raise _BodyTooLarge
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return Request(
                    method=head.method.decode("ascii"),
                    target=head.target.decode("latin-1"),
                    headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in head.headers],
                    body=bytes(body),
                    http_version=head.http_version.decode("ascii"),
                )
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    @staticmethod
    async def _send(
        connection: h11.Connection, writer: asyncio.StreamWriter, response: Response, *, head_only: bool = False
    ) -> None:
        """Send `response`; for a HEAD request only its head (content-length still says the size)."""
        headers = _framed_headers(response)
        try:
            reason = _REASONS.get(response.status, b"")
            data = connection.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
            if response.body and not head_only:
                data += connection.send(h11.Data(data=response.body))
            data += connection.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            return
        writer.write(data)
        await writer.drain()


def _framed_headers(response: Response, *, chunked: bool = False) -> list[tuple[str, str]]:
    """The response's headers with the framing header h11 needs (content-length or chunked)."""
    framing = ("content-length", "transfer-encoding")
    headers = [(k, v) for k, v in response.headers if k.lower() not in framing]
    if chunked:
        headers.append(("transfer-encoding", "chunked"))
    elif response.status not in (204, 304) and not 100 <= response.status < 200:
        headers.append(("content-length", str(len(response.body))))
    return headers


_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}


class _BodyTooLarge(Exception):
    pass
