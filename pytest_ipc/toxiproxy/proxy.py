"""One Toxiproxy proxy: a listener, its live connections and its two toxic chains.

Everything runs on one asyncio loop (the api runs it on a `LoopThread`); no method is thread-safe.
Differences from upstream Toxiproxy, all deliberate:
- a connection accepted after `add_toxic` returns always gets the toxic (upstream #148);
- reset_peer only resets when its toxicity draw succeeded (upstream #603 resets every close);
- `counters` and `live_connections()` report what upstream cannot;
- with a `Termination` (`toxiproxy.tls`) it ends clients' TLS and opens TLS upstream, so toxics act
  on plaintext, and it can perform TLS faults (`HandshakeFault`); without one, TLS passes through
  as the bytes it is;
- `cut_source` (in process only, not in the admin API) cuts one client address off a proxy that
  several peers share: a cluster whose nodes dial from loopback addresses of their own.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import random
import socket
import ssl
import struct
from collections.abc import Iterable
from typing import Any, Literal, cast

from pytest_ipc._net import split_host_port
from pytest_ipc.tls.alerting import AlertingTlsProtocol
from pytest_ipc.toxiproxy.counters import ProxyTally
from pytest_ipc.toxiproxy.link import Link
from pytest_ipc.toxiproxy.model import STREAMS, TOXIC_TYPES, Stream, ToxicConfig
from pytest_ipc.toxiproxy.tls import HandshakeFault, Termination

#: Write-buffer high-water mark of each proxied socket; large enough to keep bulk transfers streaming.
WRITE_BUFFER_HIGH = 1024 * 1024
#: How long a connect to the upstream may take before the client is turned away.
UPSTREAM_CONNECT_TIMEOUT = 30.0
LISTEN_BACKLOG = 1024
#: How long stopping a proxy waits for its aborted connections to unwind (its admin call waits on it).
STOP_WAIT = 2.0
TLS_HANDSHAKE = 0x16  # the record type that opens a TLS connection (its ClientHello)
#: How `TcpProxy.cut_source` cuts an address off: reset its connections (and each new one), or drop their bytes.
SourceCut = Literal["refuse", "blackhole"]


class ListenError(OSError):
    """The proxy could not listen; `str()` is worded like Go's error, which the admin API returns."""

    def __str__(self) -> str:
        return str(self.strerror)


def format_address(address: tuple[Any, ...]) -> str:
    """Format a socket address as Go prints it: "IP:PORT", or "[IPv6]:PORT"."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Side(asyncio.Protocol):
    """One socket of a proxied connection: the source of one link and the sink of the other."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.outbound: Link | None = None  # the link this side feeds
        self.inbound: Link | None = None  # the link that writes to this side
        self.lost = False
        # Bytes and EOF that arrive before the links exist (the first read pauses the socket until
        # then). Pausing in connection_made would not do: uvloop and Python 3.11.2's selector
        # transport start reading after connection_made whatever it asked for.
        self.early: list[bytes] = []
        self.early_eof = False
        self.first = True  # no byte read yet: the client's first one says whether it opens a TLS handshake

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self.connection.side_made(self)

    def data_received(self, data: bytes) -> None:
        if self.connection.blackholed:
            return
        if self.first and data:
            self.first = False
            if self is self.connection.client and data[0] == TLS_HANDSHAKE:
                self.connection.proxy.counters.tls_client_hellos += 1
        if self.outbound is not None:
            self.outbound.feed(data)
        else:
            self.early.append(data)
            assert self.transport is not None
            self.transport.pause_reading()  # the link resumes it once it exists

    def eof_received(self) -> bool:
        if self.connection.blackholed:
            return True
        if self.outbound is not None:
            self.outbound.feed_eof()
        else:
            self.early_eof = True
        # keep the socket writable until the other direction has delivered its data (TLS cannot: asyncio closes it)
        return self.connection.proxy.tls is None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.outbound is not None:
            self.outbound.feed_eof()
        self.connection.side_lost()

    def pause_writing(self) -> None:
        if self.inbound is not None:
            self.inbound.sink_paused(True)

    def resume_writing(self) -> None:
        if self.inbound is not None:
            self.inbound.sink_paused(False)

    def address(self, which: str) -> str | None:
        if self.transport is None:
            return None
        address = self.transport.get_extra_info(which)
        return format_address(address) if address else None


class HeldHandshake(asyncio.Protocol):
    """A connection a handshake fault holds on a terminating proxy: no TLS, its ClientHello swallowed
    ("stall": only the client's timeout ends it) or answered with a TCP reset ("reset")."""

    def __init__(self, proxy: TcpProxy, action: str) -> None:
        self.proxy = proxy
        self.action = action
        self.transport: asyncio.Transport | None = None
        self.first = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.proxy._held.add(self.transport)
        self.proxy.counters.connections_accepted += 1

    def data_received(self, data: bytes) -> None:
        if self.first and data:
            self.first = False
            if data[0] == TLS_HANDSHAKE:
                self.proxy.counters.tls_client_hellos += 1
                self.proxy.counters.tls_fault_activations += 1
        if self.action == "reset" and self.transport is not None and not self.transport.is_closing():
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.proxy._held.discard(self.transport)


class Connection:
    """A client connection and, once connected, its upstream connection and the two links."""

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.client = Side(self)
        self.upstream = Side(self)
        self.links: dict[Stream, Link] = {}
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._connecting: asyncio.Task[None] | None = None
        self._aborted = False
        self.source: str | None = None  # the client's IP address, once accepted
        self.blackholed = False  # its source is cut off with "blackhole": bytes are dropped both ways

    def side_made(self, side: Side) -> None:
        if side is not self.client:
            if self._aborted and side.transport is not None:  # connected just as the connection was aborted
                side.transport.abort()
            return
        if not self.proxy.enabled:  # accepted just as the proxy stopped
            self.abort()
            return
        peer = side.transport.get_extra_info("peername") if side.transport is not None else None
        self.source = peer[0] if peer else None
        cut = self.proxy.cut_sources.get(self.source or "")
        if cut == "refuse":
            self.reset()
            return
        self.blackholed = cut == "blackhole"
        self.proxy._register(self)
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect_upstream(), name=f"proxy {self.proxy.name} connect upstream"
        )

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            host, port = split_host_port(self.proxy.upstream)
            tls = self.proxy.tls
            context, server_name = (None, None) if tls is None else (tls.upstream_context, tls.upstream_server_name)
            await asyncio.wait_for(
                loop.create_connection(lambda: self.upstream, host, port, ssl=context, server_hostname=server_name),
                UPSTREAM_CONNECT_TIMEOUT,
            )
        except (OSError, ValueError, TimeoutError):
            self._connecting = None
            self.proxy.counters.upstream_failures += 1
            self.abort()  # the client sees its accepted connection closed at once
            return
        self._connecting = None
        if self.client.lost:
            self.abort()
            return
        self._link()

    def _link(self) -> None:
        proxy = self.proxy
        wiring: tuple[tuple[Stream, Side, Side], ...] = (
            ("upstream", self.client, self.upstream),
            ("downstream", self.upstream, self.client),
        )
        for stream, source, sink in wiring:
            link = Link(stream, source, sink, proxy.counters, proxy.rng, self.reset, self.abort)
            source.outbound = link
            sink.inbound = link
            self.links[stream] = link
            for toxic in proxy._chains[stream]:  # read synchronously: no toxic added meanwhile is missed
                link.add(toxic)
        for stream, source, _ in wiring:
            link = self.links[stream]
            for data in source.early:
                link.feed(data)
            source.early.clear()
            if source.early_eof:
                link.feed_eof()
            link.throttle()  # reads the source again unless the early bytes already fill the link

    def side_lost(self) -> None:
        if self.done.done():
            return
        upstream_settled = self.upstream.lost or (self.upstream.transport is None and self._connecting is None)
        if self.client.lost and upstream_settled:
            for link in self.links.values():
                link.cancel()
            self.proxy._forget(self)
            self.done.set_result(None)

    def abort(self) -> list[asyncio.Task[None]]:
        """Close both sockets now, dropping buffered data; returns the tasks cancelled on the way."""
        self._aborted = True
        cancelled = [task for link in self.links.values() for task in link.cancel()]
        if self._connecting is not None:
            self._connecting.cancel()
            cancelled.append(self._connecting)
            self._connecting = None
        for side in (self.client, self.upstream):
            if side.transport is not None:
                side.transport.abort()
        self.side_lost()
        return cancelled

    def reset(self) -> None:
        """Abort both sockets with SO_LINGER 0, so both peers get a TCP RST."""
        linger_zero = struct.pack("ii", 1, 0)
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.lost:
                sock = side.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
        self.abort()

    def describe(self) -> dict[str, str | None]:
        return {"client": self.client.address("peername"), "upstream": self.upstream.address("peername")}


class TcpProxy:
    """A named TCP proxy from `listen` to `upstream` with upstream and downstream toxic chains."""

    def __init__(
        self, name: str, listen: str, upstream: str, *, rng: random.Random | None = None, tls: Termination | None = None
    ) -> None:
        self.name = name
        self.tls = tls
        self.tls_fault: HandshakeFault | None = None  # in place on a terminating proxy (POST /proxies/{name}/tls_fault)
        self.listen = listen
        self.upstream = upstream
        self.rng = rng or random.Random()
        self.counters = ProxyTally()
        self._chains: dict[Stream, list[ToxicConfig]] = {stream: [] for stream in STREAMS}
        self._connections: set[Connection] = set()
        self._held: set[asyncio.Transport] = set()  # connections a held handshake keeps (no Connection of theirs)
        self._server: asyncio.Server | None = None
        self.cut_sources: dict[str, SourceCut] = {}  # client IP -> how it is cut off (`cut_source`)

    def __repr__(self) -> str:
        return f"TcpProxy({self.name!r}, listen={self.listen!r}, upstream={self.upstream!r}, enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        return self._server is not None

    # -- listening -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on `listen` and rewrite it to the bound "IP:PORT" (kept for the next start)."""
        if self._server is not None:
            return
        sock = await self._bind()
        self._server = await asyncio.get_running_loop().create_server(self._accept, sock=sock, backlog=LISTEN_BACKLOG)
        self.listen = format_address(sock.getsockname())

    def _accept(self) -> asyncio.BaseProtocol:
        """The protocol of one accepted connection: the proxied connection, inside TLS when terminating.

        A terminating proxy handshakes each connection itself (`AlertingTlsProtocol`, so a client it
        refuses reads the alert), with the context of a TLS fault when the fault's toxicity draw hits.
        """
        if self.tls is None:
            return Connection(self).client
        context = self.tls.server_context
        fault = self.tls_fault
        if fault is not None and (fault.toxicity >= 1.0 or self.rng.random() < fault.toxicity):
            if fault.context is None:
                return HeldHandshake(self, fault.handshake)
            context = fault.context
        return AlertingTlsProtocol(asyncio.get_running_loop(), Connection(self).client, context)

    def set_tls_fault(self, fault: HandshakeFault | None) -> None:
        """Put `fault` in place for the connections accepted from now on (None: take it away)."""
        if fault is not None and fault.context is not None:
            fault.context._msg_callback = self._hello_meets_fault  # type: ignore[attr-defined]  # CPython's TLS message hook
        self.tls_fault = fault

    def _hello_meets_fault(
        self, connection: object, direction: str, version: object, content_type: object, message: object, data: bytes
    ) -> None:
        """Counts the ClientHellos the fault's context reads: the handshakes the fault acted on."""
        if direction == "read" and message == ssl._TLSMessageType.CLIENT_HELLO:  # type: ignore[attr-defined]
            self.counters.tls_fault_activations += 1

    async def _bind(self) -> socket.socket:
        try:
            host, port = split_host_port(self.listen)
        except ValueError as error:
            raise ListenError(errno.EINVAL, f"listen tcp {self.listen}: {error}") from None
        family, address = await _resolve_listen(host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # re-enable while old sockets linger
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
        except OSError as error:
            sock.close()
            message = (error.strerror or str(error)).lower()
            raise ListenError(error.errno, f"listen tcp {format_address(address)}: bind: {message}") from None
        sock.setblocking(False)
        return sock

    async def stop(self) -> None:
        """Close the listener and every live connection (abruptly); toxics stay."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for transport in list(self._held):
            transport.abort()
        connections = list(self._connections)
        cancelled = [task for connection in connections for task in connection.abort()]
        await server.wait_closed()
        await _join(cancelled)
        if connections:
            # bounded well below an admin client's timeout: every socket is already aborted
            await asyncio.wait([connection.done for connection in connections], timeout=STOP_WAIT)

    # -- connections -----------------------------------------------------------------------------
    def _register(self, connection: Connection) -> None:
        self._connections.add(connection)
        self.counters.connections_accepted += 1
        self.counters.connections_active = len(self._connections)

    def _forget(self, connection: Connection) -> None:
        self._connections.discard(connection)
        self.counters.connections_active = len(self._connections)

    # -- sources cut off (in process only) --------------------------------------------------------
    async def cut_source(self, host: str, how: SourceCut) -> None:
        """Cut the clients at IP `host` off, live connections and new ones: "refuse" resets them,
        "blackhole" drops their bytes both ways until `mend_source`. The other clients pass."""
        self.cut_sources[host] = how
        for connection in list(self._connections):
            if connection.source == host:
                if how == "refuse":
                    connection.reset()
                else:
                    connection.blackholed = True

    async def mend_source(self, host: str) -> None:
        """Let the clients at IP `host` through again (a blackholed connection carries bytes again)."""
        self.cut_sources.pop(host, None)
        for connection in self._connections:
            if connection.source == host:
                connection.blackholed = False

    def live_connections(self) -> list[dict[str, str | None]]:
        """Client and upstream address of each open connection (upstream None while connecting)."""
        return [connection.describe() for connection in self._connections]

    def _links(self, stream: Stream) -> list[Link]:
        return [connection.links[stream] for connection in self._connections if connection.links]

    # -- toxics ----------------------------------------------------------------------------------
    def list_toxics(self) -> list[ToxicConfig]:
        return [toxic for stream in STREAMS for toxic in self._chains[stream]]

    def get_toxic(self, name: str) -> ToxicConfig | None:
        return next((toxic for toxic in self.list_toxics() if toxic.name == name), None)

    def _require(self, name: str) -> ToxicConfig:
        toxic = self.get_toxic(name)
        if toxic is None:
            raise KeyError(f"proxy {self.name!r} has no toxic {name!r}")
        return toxic

    async def add_toxic(self, toxic: ToxicConfig) -> None:
        """Append `toxic` to its stream's chain, on live connections too.

        The admin API validates first; these checks only guard direct callers.
        """
        if toxic.type not in TOXIC_TYPES:
            raise ValueError(f"invalid toxic type {toxic.type!r}; valid types: {', '.join(TOXIC_TYPES)}")
        if toxic.stream.lower() not in STREAMS:
            raise ValueError(f"invalid stream {toxic.stream!r}; valid streams: {', '.join(STREAMS)}")
        if self.get_toxic(toxic.name) is not None:
            raise ValueError(f"proxy {self.name!r} already has a toxic named {toxic.name!r}")
        self._chains[toxic.direction].append(toxic)
        for link in self._links(toxic.direction):
            link.add(toxic)

    async def update_toxic(self, name: str, attributes: dict[str, int], toxicity: float) -> ToxicConfig:
        """Merge `attributes`, set `toxicity` and restart the toxic's stage on live connections."""
        toxic = self._require(name)
        toxic.attributes.update(attributes)
        toxic.toxicity = toxicity
        await _join([link.restart(toxic) for link in self._links(toxic.direction)])
        return toxic

    async def remove_toxic(self, name: str) -> None:
        """Remove the toxic; live connections get what it held, in order."""
        toxic = self._require(name)
        self._chains[toxic.direction].remove(toxic)
        await _join([link.remove(toxic) for link in self._links(toxic.direction)])

    async def remove_all_toxics(self) -> None:
        for toxic in self.list_toxics():
            await self.remove_toxic(toxic.name)


async def _resolve_listen(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The address to bind: numeric hosts directly, names through the loop's resolver, IPv4 first as Go.

    Only a host name needs the resolver (asyncio runs it on the loop's executor threads).
    """
    try:
        numeric = ipaddress.ip_address(host or "0.0.0.0")
    except ValueError:
        pass
    else:
        if numeric.version == 4:
            return socket.AF_INET, (str(numeric), port)
        return socket.AF_INET6, (str(numeric), port, 0, 0)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ListenError(errno.EADDRNOTAVAIL, f"listen tcp: lookup {host}: {error.strerror}") from None
    family, _, _, _, address = min(infos, key=lambda info: info[0] != socket.AF_INET)
    return family, address


async def _join(tasks: Iterable[asyncio.Task[None] | None]) -> None:
    """Wait for cancelled stage tasks to unwind."""
    pending = [task for task in tasks if task is not None]
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
