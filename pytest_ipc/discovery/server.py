"""`DnsServer`: an authoritative name server on loopback for the services a test defines.

It answers A, AAAA and SRV (and SOA for negative answers) for names under its zone (``ipc.test`` by
default), over UDP and TCP on one port, from a `LoopThread` of its own. Answers are built with
dnspython's wire format, so any real resolver (dnspython, c-ares as used by aiodns, aiohttp and
grpcio) reads them as it reads a production server's. Like BIND's default ``rrset-order cyclic``,
each answer rotates the name's records by one, so a client that takes the first address spreads its
connections the way it would in production.

Every query is journalled (`DnsQuery`, the journal protocol of every stub), and faults of the dns
layer (`pytest_ipc.faults.layers.dns`) act per query: NXDOMAIN, SERVFAIL, no answer (`hang`), a late
answer (`latency`), records changed, TTL 0. Between tests `end_test()` forgets records, faults and
journal; the port stays for the session (a resolver's configuration is made once).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._journal import CallJournal, Recorded
from pytest_ipc._loop import LoopThread
from pytest_ipc._net import LOOPBACK

if TYPE_CHECKING:
    from pytest_ipc.faults.layers.dns import DnsArmedFault
    from pytest_ipc.faults.vocabulary import Fault

ZONE = "ipc.test"  # .test is reserved (RFC 2606): no real name is ever shadowed
DEFAULT_TTL = 1  # seconds: short, so a test of re-resolution waits little
TYPES = ("A", "AAAA", "SRV")
BIND_ATTEMPTS = 20  # UDP and TCP must get the same port; the kernel picks the UDP one


class DnsUsageError(IpcUsageError):
    """A record, name or TTL the DNS server cannot use; the message says what it takes."""


@dataclass
class DnsQuery(Recorded):
    """One query the server saw: `answers` are the records sent (text form); `rcode` is None when no
    answer was sent (a `hang` fault, or the test ended first)."""

    name: str
    rdtype: str
    transport: str
    started: float
    ended: float | None = None
    rcode: str | None = None
    answers: list[str] = field(default_factory=list)
    ttl: int | None = None
    faults: list[str] = field(default_factory=list)
    route: object | None = None
    unmatched: bool = False  # a name outside the zone (REFUSED)
    test: str | None = None
    in_flight: int = 1
    _epoch: int = field(default=-1, repr=False, compare=False)

    @property
    def endpoint(self) -> str:
        return f"{self.rdtype} {self.name}"

    def describe(self) -> str:
        outcome = "(no answer)" if self.rcode is None else self.rcode
        shown = f" {', '.join(self.answers)}" if self.answers else ""
        ttl = f" ttl={self.ttl}" if self.ttl is not None and self.answers else ""
        extra = f" [{self.fault}]" if self.faults else ""
        return f"{self.transport} {self.endpoint} -> {outcome}{shown}{ttl}{extra}"


class DnsJournal(CallJournal[DnsQuery]):
    """Every query one test's DNS server saw, in arrival order."""

    noun = "query"


@dataclass
class Plan:
    """What a query gets, shaped by the faults that fired: a delay, no answer, another rcode, TTL, records left out."""

    delay: float = 0.0
    hang: bool = False
    rcode: int | None = None
    ttl: int | None = None
    drop: int = 0


class DnsServer:
    """An authoritative DNS server on `host` (loopback), UDP and TCP on one port; a context manager.

    `add(name, type, value)` and `set_records(...)` define records; `register(...)` a service's
    instances (A records for the name and each instance, SRV under ``_<protocol>._tcp.<name>``).
    `nameserver` is the address a resolver needs ("127.0.0.1"), `port` its port.
    """

    def __init__(self, host: str = LOOPBACK, port: int = 0, *, zone: str = ZONE, ttl: int = DEFAULT_TTL) -> None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise DnsUsageError(f"the DNS server binds an IP address (e.g. {LOOPBACK} or ::1), got {host!r}") from None
        self._host = host
        self._wanted_port = port
        self.zone = _name(zone)
        self.default_ttl = _ttl(ttl)
        self.records: dict[str, dict[str, list[str]]] = {}
        self.ttls: dict[str, int] = {}
        self.faults: list[DnsArmedFault] = []
        self.journal = DnsJournal()
        self.test: str | None = None
        self.unmatched_allowed = False
        self._rotation: dict[tuple[str, str], int] = {}
        self._loop: LoopThread | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DnsServer:
        if self._loop is not None:
            raise RuntimeError("the DNS server is already running")
        loop = LoopThread("pytest-ipc-dns").start()
        try:
            loop.run(self._listen())
        except BaseException:
            loop.stop()
            raise
        self._loop = loop
        return self

    async def _move(self) -> None:
        """Listen on a fresh port, then close the old one: a query a client sends after its test
        ended is refused by the closed port instead of being answered from the next test's records."""
        udp, tcp = self._udp, self._tcp
        await self._listen()
        if udp is not None:
            udp.close()
        if tcp is not None:
            tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tcp.wait_closed(), 1.0)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        for _attempt in range(BIND_ATTEMPTS):
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(self._host, self._wanted_port))
            port = int(udp.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self._host, port, reuse_address=True)
            except OSError:
                udp.close()
                if self._wanted_port:
                    raise
                continue
            self._udp, self._port = udp, port
            return
        raise OSError(f"no port free for both UDP and TCP on {self._host} after {BIND_ATTEMPTS} attempts")

    def stop(self) -> None:
        """Close both sockets, cancel answers still waiting and end the loop thread (idempotent)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._close())
        finally:
            loop.stop()

    async def _close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
        await self._cancel_waiting()

    async def _cancel_waiting(self) -> None:
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._loop is not None

    # -- the per-test protocol of every stub (`pytest_ipc.fixtures._per_test`) -------------------
    def begin_test(self, test: str) -> None:
        """Serve `test` from here on, on a port of its own, with no records, faults or queries of an earlier test."""
        self.reset()
        if self._loop is not None and not self._wanted_port:
            self._loop.run(self._move())
        self.test = test

    def end_test(self) -> None:
        """Cancel the answers still waiting (hangs, delays) and forget the test's records and faults."""
        self.reset()
        self.test = None

    def reset(self) -> None:
        """Forget records, faults and the journal; cancel answers still waiting."""
        if self._loop is not None:
            self._loop.run(self._cancel_waiting())
        self.records = {}
        self.ttls = {}
        self.faults = []
        self._rotation = {}
        self.unmatched_allowed = False
        self.journal.clear()

    def allow_unmatched(self) -> None:
        """Queries for names outside the zone do not fail the test."""
        self.unmatched_allowed = True

    def problems_report(self) -> str | None:
        """Queries for names outside the zone (answered REFUSED), unless allowed; None if none."""
        refused = [] if self.unmatched_allowed else self.journal.unmatched()
        if not refused:
            return None
        lines = [f"ipc_dns: {len(refused)} query(ies) for names outside its zone {self.zone} (answered REFUSED):"]
        lines += [f"  {query.describe()}" for query in refused]
        lines.append("(a client asked the test's DNS server for a name it does not serve; allow with ipc_dns.allow_unmatched())")
        return "\n".join(lines)

    # -- addresses -------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._host

    @property
    def nameserver(self) -> str:
        """The server's IP address, as resolvers' `nameservers` lists take it."""
        return self._host

    @property
    def port(self) -> int:
        if self._loop is None:
            raise RuntimeError("the DNS server is not running; call start() or use it as a context manager")
        return self._port

    @property
    def address(self) -> str:
        """"host:port" ("[::1]:port" for IPv6), as c-ares' server lists take it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"

    def system_resolver(self, *, lifetime: float = 2.0) -> contextlib.AbstractContextManager[DnsServer]:
        """Within the block, ``socket.getaddrinfo`` resolves names under the zone through this server
        (requests, httpx, urllib3, aiohttp's default resolver); see `pytest_ipc.discovery.resolvers`."""
        from pytest_ipc.discovery.resolvers import system_resolver

        return system_resolver(self, lifetime=lifetime)

    def grpc_target(self, name: str, port: int) -> str:
        """A gRPC target that resolves `name` through this server: ``dns://127.0.0.1:PORT/name:port``
        (grpcio's c-ares resolver honours the authority)."""
        return f"dns://{self.address}/{self.qualify(name)}:{port}"

    # -- records ---------------------------------------------------------------------------------
    def qualify(self, name: str) -> str:
        """`name` under the zone: "orders" -> "orders.ipc.test"; a name already in the zone is kept."""
        text = _name(name)
        if text == self.zone or text.endswith("." + self.zone):
            return text
        if not text:
            raise DnsUsageError("a service name must not be empty")
        return f"{text}.{self.zone}"

    def add(self, name: str, rdtype: str, value: str, *, ttl: int | None = None) -> str:
        """Add one record (A/AAAA: an address; SRV: "priority weight port target"); returns the full name."""
        full = self.qualify(name)
        kind = _type(rdtype)
        _check_value(kind, value)
        self.records.setdefault(full, {}).setdefault(kind, []).append(value)
        if ttl is not None or full not in self.ttls:
            self.ttls[full] = self.default_ttl if ttl is None else _ttl(ttl)
        return full

    def set_records(self, name: str, rdtype: str, values: Iterable[str], *, ttl: int | None = None) -> str:
        """Replace the name's records of `rdtype` (an empty list removes them): records changed, by the test."""
        full = self.qualify(name)
        kind = _type(rdtype)
        listed = list(values)
        for value in listed:
            _check_value(kind, value)
        types = self.records.setdefault(full, {})
        if listed:
            types[kind] = listed
        else:
            types.pop(kind, None)
        if ttl is not None:
            self.ttls[full] = _ttl(ttl)
        self.ttls.setdefault(full, self.default_ttl)
        return full

    def remove(self, name: str) -> None:
        """The name stops existing: queries get NXDOMAIN."""
        full = self.qualify(name)
        self.records.pop(full, None)
        self.ttls.pop(full, None)

    def register(
        self, name: str, addresses: Sequence[tuple[str, int]], *, ttl: int | None = None, protocol: str = "http"
    ) -> str:
        """Serve a service's instances: A/AAAA records for `name` listing every instance's address, one
        name per instance (``0.<name>``, ``1.<name>``...) and SRV records under ``_<protocol>._tcp.<name>``
        pointing at those with each instance's port. Returns the full name."""
        full = self.qualify(name)
        if not addresses:
            raise DnsUsageError(f"register({name!r}) needs at least one (address, port)")
        service = f"_{protocol}._tcp.{full}"
        for rdtype in ("A", "AAAA"):
            self.set_records(full, rdtype, [host for host, _ in addresses if _type_of(host) == rdtype], ttl=ttl)
        srv = []
        for index, (host, port) in enumerate(addresses):
            instance = f"{index}.{full}"
            self.set_records(instance, _type_of(host), [host], ttl=ttl)
            srv.append(f"0 1 {port} {instance}.")
        self.set_records(service, "SRV", srv, ttl=ttl)
        return full

    def inject(self, *faults: Fault | str) -> None:
        """Faults of the dns layer for every query (see `pytest_ipc.faults.layers.dns`)."""
        from pytest_ipc.faults.layers.dns import arm

        self.faults.extend(arm(fault) for fault in faults)

    # -- looking at what happened ----------------------------------------------------------------
    def calls(self, route: object = None) -> list[DnsQuery]:
        """Every query of this test (`route`: only those for that name, qualified like `qualify`)."""
        self.refresh()
        queries = self.journal.snapshot()
        if route is None:
            return queries
        full = self.qualify(str(route))
        return [query for query in queries if query.name == full]

    def queries(self, name: str | None = None, rdtype: str | None = None) -> list[DnsQuery]:
        """The test's queries, of one name and/or type."""
        found = self.calls(name)
        return found if rdtype is None else [query for query in found if query.rdtype == _type(rdtype)]

    def refresh(self) -> None:
        """Let the loop finish recording what already arrived (a query is journalled on the loop)."""
        if self._loop is not None:
            self._loop.settle()

    # -- answering (on the loop thread) ----------------------------------------------------------
    async def answer(self, wire: bytes, transport: str) -> bytes | None:
        """The response to one query's wire bytes, or None (no answer: a hang, or garbage)."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # garbage on the port: real servers drop it too
            return None
        if not query.question:
            return dns.message.make_response(query).to_wire()
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        entry = self.journal.begin(DnsQuery(name, rdtype, transport, time.monotonic(), test=self.test))
        try:
            plan = Plan()
            for armed in list(self.faults):
                if armed.fires():
                    entry.faults.append(armed.fault.label)
                    armed.shape(plan)
            if plan.hang:
                await asyncio.Event().wait()  # until the test ends (reset) or the server stops
            if plan.delay:
                await asyncio.sleep(plan.delay)
            response = self._response(query, name, question.rdtype, plan, entry)
            entry.rcode = dns.rcode.to_text(response.rcode())
            return response.to_wire(want_shuffle=False)  # the rotation above is the order
        finally:
            self.journal.finish(entry, time.monotonic())

    def _response(self, query: dns.message.Message, name: str, rdtype: int, plan: Plan, entry: DnsQuery) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.flags &= ~dns.flags.RA
        in_zone = name == self.zone or name.endswith("." + self.zone)
        if not in_zone:
            entry.unmatched = True
            response.set_rcode(dns.rcode.REFUSED)
            return response
        if plan.rcode is not None:
            response.set_rcode(dns.rcode.Rcode(plan.rcode))
            return response
        known = self.records.get(name)
        ttl = self.ttls.get(name, self.default_ttl) if plan.ttl is None else plan.ttl
        kind = dns.rdatatype.to_text(dns.rdatatype.RdataType(rdtype))
        values = list(known.get(kind, [])) if known is not None else []
        if values and plan.drop:
            values = values[plan.drop :] or []
        if known is None or (not any(known.values())):
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa(ttl))
            return response
        if not values:  # the name exists, not with this type (NODATA)
            response.authority.append(self._soa(ttl))
            return response
        turn = self._rotation.get((name, kind), 0)
        self._rotation[(name, kind)] = turn + 1
        shift = turn % len(values)
        values = values[shift:] + values[:shift]
        rrset = dns.rrset.from_text_list(dns.name.from_text(name), ttl, dns.rdataclass.IN, kind, values)
        response.answer.append(rrset)
        entry.answers = values
        entry.ttl = ttl
        return response

    def _soa(self, ttl: int) -> dns.rrset.RRset:
        zone = dns.name.from_text(self.zone)
        text = f"ns.{self.zone}. hostmaster.{self.zone}. 1 60 60 60 {ttl}"
        return dns.rrset.from_text_list(zone, ttl, dns.rdataclass.IN, "SOA", [text])

    def _spawn(self, wire: bytes, transport: str, send: Callable[[bytes], None]) -> None:
        """Answer one datagram on a task of its own (a held answer holds nothing else)."""
        async def reply() -> None:
            answer = await self.answer(wire, transport)
            if answer is not None:
                send(answer)

        task = asyncio.get_running_loop().create_task(reply())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # cancelled at reset like the UDP answers
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                wire = await reader.readexactly(size)
                answer = await self.answer(wire, "tcp")
                if answer is not None:
                    writer.write(struct.pack("!H", len(answer)) + answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        transport = self.transport
        if transport is None:
            return

        def send(answer: bytes) -> None:
            if not transport.is_closing():
                transport.sendto(answer, addr)

        self.server._spawn(data, "udp", send)


def _name(name: str) -> str:
    if not isinstance(name, str):
        raise DnsUsageError(f"a DNS name must be a str, got {name!r}")
    text = name.strip().rstrip(".").lower()
    if any(char.isspace() for char in text):
        raise DnsUsageError(f"a DNS name has no spaces, got {name!r}")
    return text


def _type(rdtype: str) -> str:
    kind = str(rdtype).upper()
    if kind not in TYPES:
        raise DnsUsageError(f"unknown record type {rdtype!r}; the DNS server serves: {', '.join(TYPES)}")
    return kind


def _type_of(address: str) -> str:
    return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"


def _ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl < 2**31:
        raise DnsUsageError(f"a TTL is whole seconds (DNS carries no fractions) from 0, got {ttl!r}")
    return ttl


def _check_value(kind: str, value: str) -> None:
    if kind in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise DnsUsageError(f"an {kind} record holds an IP address, got {value!r}") from None
        if _type_of(str(address)) != kind:
            raise DnsUsageError(f"{value!r} is an {_type_of(str(address))} address, not {kind}")
        return
    parts = value.split()
    if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]):
        raise DnsUsageError(f"an SRV record is 'priority weight port target', got {value!r}")
