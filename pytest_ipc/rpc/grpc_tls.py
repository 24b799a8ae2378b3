"""`TlsFront`: the gRPC stub's TLS listener, in Python's `ssl` in front of grpcio's plain port.

grpcio's own TLS (BoringSSL in its C core) fixes a port's client-certificate policy when the port
is added and offers no per-handshake hook but a certificate fetcher, so it cannot require a client
certificate for one block of a test, nor count the handshakes a fault hit. The front terminates
TLS with an `ssl.SSLContext` (the session CA's, ALPN "h2" as gRPC clients demand) and relays the
HTTP/2 bytes to the stub's loopback plain port: the TLS faults then act on it exactly as on the
HTTPS stub (`pytest_ipc.faults.layers.stub_tls`), a refused client reads the TLS alert a real server
sends (`AlertingTlsProtocol`), and everything after the handshake is grpcio's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

from pytest_ipc._loop import LoopThread
from pytest_ipc.tls.alerting import AlertingTlsProtocol

#: What gRPC clients require the server to select in ALPN (grpc-core refuses a TLS peer without it).
ALPN = ["h2"]
CLOSE_GRACE = 2.0  # seconds the listener waits for its connections to go at stop


class _Upstream(asyncio.Protocol):
    """The relay's side towards grpcio's plain port."""

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay

    def data_received(self, data: bytes) -> None:
        if self.relay.transport is not None and not self.relay.transport.is_closing():
            self.relay.transport.write(data)

    def eof_received(self) -> bool | None:
        self.relay.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.close()


class _Relay(asyncio.Protocol):
    """One client's TLS connection (after its handshake), relayed byte for byte to grpcio."""

    def __init__(self, front: TlsFront) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.front.relays.add(self)
        self.front.handshakes_completed += 1
        self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(lambda: _Upstream(self), self.front.upstream[0], self.front.upstream[1])
        except OSError:
            self.close()
            return
        if self.closed:
            upstream.close()
            return
        self.upstream = upstream
        for chunk in self.pending:
            upstream.write(chunk)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.write(data)

    def eof_received(self) -> bool | None:
        self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.front.relays.discard(self)
        for transport in (self.transport, self.upstream):
            if transport is not None:
                transport.close()


class TlsFront:
    """A TLS listener on `host` (port chosen by the OS) relaying to the plain gRPC port `upstream`.

    `context` is served as is (the TLS faults change it for a block); ALPN "h2" is set on it.
    """

    def __init__(self, host: str, upstream: tuple[str, int], context: ssl.SSLContext) -> None:
        context.set_alpn_protocols(ALPN)
        self.host = host
        self.upstream = upstream
        self.context = context
        self.relays: set[_Relay] = set()
        self.handshakes_completed = 0
        self.port = 0
        self._loop: LoopThread | None = None
        self._server: asyncio.Server | None = None

    def start(self) -> TlsFront:
        self._loop = LoopThread("pytest-ipc-grpc-tls").start()
        try:
            self._server = self._loop.run(self._listen())
        except BaseException:
            self._loop.stop()
            self._loop = None
            raise
        return self

    async def _listen(self) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = await loop.create_server(
            lambda: AlertingTlsProtocol(loop, _Relay(self), self.context), host=self.host, port=0, family=family
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def close_connections(self) -> None:
        """Close every relayed connection (the clients' channels reconnect with a new handshake)."""
        if self._loop is not None and self._loop.running:
            self._loop.run(self._close_relays())

    async def _close_relays(self) -> None:
        for relay in list(self.relays):
            relay.close()

    def stop(self) -> None:
        """Stop listening, close every connection and the loop's thread (idempotent)."""
        if self._loop is None:
            return
        loop, server = self._loop, self._server
        self._loop, self._server = None, None
        if server is not None and loop.running:
            with contextlib.suppress(Exception):
                loop.run(self._shut(server))
        loop.stop()

    async def _shut(self, server: asyncio.Server) -> None:
        server.close()
        await self._close_relays()
        with contextlib.suppress(TimeoutError):  # a handshake still under way is not a relay yet: its socket goes with the loop
            await asyncio.wait_for(server.wait_closed(), CLOSE_GRACE)
