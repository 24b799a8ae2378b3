"""`Relay`: a loopback TCP listener that relays each connection to an upstream address, byte for byte.

Owner of relaying in pytest-ipc's own helpers (the fault proxy has its own, with toxics): the gRPC
stub's TLS listener terminates TLS in front of grpcio (`tls=`, `pytest_ipc.rpc.grpc_tls`), and the
broker-user recorders read what a login sends and is answered (`on_client`/`on_server` taps, each
called with a connection's number and its bytes, in order, on the relay's loop thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
from collections.abc import Callable

from pytest_ipc._loop import LoopThread
from pytest_ipc.tls.alerting import AlertingTlsProtocol

CLOSE_GRACE = 2.0  # seconds the listener waits for its connections to go at stop
Tap = Callable[[int, bytes], None]


class _Upstream(asyncio.Protocol):
    """A connection's side towards the upstream address."""

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay

    def data_received(self, data: bytes) -> None:
        if self.relay.front.on_server is not None:
            self.relay.front.on_server(self.relay.number, data)
        if self.relay.transport is not None and not self.relay.transport.is_closing():
            self.relay.transport.write(data)

    def eof_received(self) -> bool | None:
        self.relay.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.close()


class _Relay(asyncio.Protocol):
    """One client's connection (after its TLS handshake, with `tls=`), relayed byte for byte."""

    def __init__(self, front: Relay) -> None:
        self.front = front
        self.number = next(front.numbers)
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's is not an asyncio.Transport subclass)
        self.front.relays.add(self)
        self.front.connections_made += 1
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
        if self.front.on_client is not None:
            self.front.on_client(self.number, data)
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


class Relay:
    """A listener on `host` (port chosen by the OS) relaying each connection to `upstream`; with `tls`,
    it terminates TLS with that context first. Use as a context manager or `start()`/`stop()`."""

    def __init__(
        self,
        host: str,
        upstream: tuple[str, int],
        *,
        tls: ssl.SSLContext | None = None,
        on_client: Tap | None = None,
        on_server: Tap | None = None,
        name: str = "pytest-ipc-relay",
    ) -> None:
        self.host = host
        self.upstream = upstream
        self.context = tls
        self.on_client = on_client
        self.on_server = on_server
        self.name = name
        self.numbers = itertools.count(1)
        self.relays: set[_Relay] = set()
        self.connections_made = 0
        self.port = 0
        self._loop: LoopThread | None = None
        self._server: asyncio.Server | None = None

    def start(self) -> Relay:
        self._loop = LoopThread(self.name).start()
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
        context = self.context
        factory: Callable[[], asyncio.BaseProtocol] = (
            (lambda: _Relay(self)) if context is None else (lambda: AlertingTlsProtocol(loop, _Relay(self), context))
        )
        server = await loop.create_server(factory, host=self.host, port=0, family=family)
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

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _shut(self, server: asyncio.Server) -> None:
        server.close()
        await self._close_relays()
        with contextlib.suppress(TimeoutError):  # a handshake still under way is not a relay yet: its socket goes with the loop
            await asyncio.wait_for(server.wait_closed(), CLOSE_GRACE)
