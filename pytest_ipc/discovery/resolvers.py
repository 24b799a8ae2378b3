"""Pointing clients at the test's DNS server: the system resolver for one zone, and resolver objects.

A process's resolver configuration (``/etc/resolv.conf``) cannot name a port, so clients are pointed
at `DnsServer` by what each library offers:

- requests, httpx (sync, and async on asyncio's default loop), urllib3, aiohttp's default
  ``ThreadedResolver``: they call ``socket.getaddrinfo``; `system_resolver(server)` makes it resolve
  names under the server's zone through the server (every other name as before) for a block, with
  the errors glibc gives: ``socket.gaierror`` EAI_NONAME for NXDOMAIN, EAI_AGAIN for SERVFAIL or no
  answer. Nothing is cached: each connection asks again, as with glibc and no nscd.
- aiohttp's ``AsyncResolver`` and aiodns (c-ares): `aiohttp_resolver(server)` /
  ``aiodns.DNSResolver(nameservers=[server.address])`` (c-ares takes "host:port").
- dnspython: `dnspython_resolver(server)`.
- grpcio: its c-ares resolver honours the target's authority: ``server.grpc_target(name, port)``
  gives ``dns://127.0.0.1:PORT/name:port``. (Under uvloop, asyncio's ``getaddrinfo`` is libuv's and
  does not see the patch: use an aiohttp/aiodns resolver there.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pytest_ipc._optional import require

if TYPE_CHECKING:
    import dns.resolver

    from pytest_ipc.discovery.server import DnsServer

LIFETIME = 2.0  # seconds a lookup through `system_resolver` may take, like glibc's 2 x (timeout:1) on one server

_patch_lock = threading.Lock()


def dnspython_resolver(server: DnsServer, *, lifetime: float = LIFETIME) -> dns.resolver.Resolver:
    """A dnspython `Resolver` that asks `server` only, gives up after `lifetime` seconds and caches nothing."""
    require("dns.resolver", extra="discovery", feature="a resolver for the test's DNS server")
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.nameserver]
    resolver.port = server.port
    resolver.lifetime = lifetime
    resolver.timeout = lifetime
    return resolver


def aiohttp_resolver(server: DnsServer) -> Any:
    """An ``aiohttp.AsyncResolver`` (c-ares, through aiodns) that asks `server`: pass it to ``TCPConnector(resolver=...)``.

    Create it inside the event loop the session runs on; close it with ``await resolver.close()``
    (the connector does when it owns it)."""
    require("aiodns", extra="discovery", feature="aiohttp's AsyncResolver")
    import aiohttp

    return aiohttp.AsyncResolver(nameservers=[server.address])


@contextmanager
def system_resolver(server: DnsServer, *, lifetime: float = LIFETIME) -> Iterator[DnsServer]:
    """Within the block, ``socket.getaddrinfo`` resolves names under `server`'s zone through `server`.

    Other names (localhost, IP literals, the rest of the world) go to the resolver that was there.
    Blocks may nest (the innermost server wins for its zone); the previous function is back after
    the block, also on an error.
    """
    resolver = dnspython_resolver(server, lifetime=lifetime)
    zone = server.zone
    with _patch_lock:
        previous = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if not isinstance(name, str) or not _in_zone(name, zone):
            return previous(host, port, family, type, proto, flags)
        return _lookup(resolver, name.rstrip(".").lower(), port, family, type, proto)

    with _patch_lock:
        socket.getaddrinfo = getaddrinfo
    try:
        yield server
    finally:
        with _patch_lock:
            if socket.getaddrinfo is getaddrinfo:
                socket.getaddrinfo = previous


def _in_zone(name: str, zone: str) -> bool:
    text = name.rstrip(".").lower()
    return text == zone or text.endswith("." + zone)


def _lookup(resolver: dns.resolver.Resolver, name: str, port: Any, family: int, kind: int, proto: int) -> list[Any]:
    """getaddrinfo's answer for `name`, or the gaierror glibc raises for that DNS outcome."""
    import dns.exception
    import dns.resolver

    wanted = {socket.AF_INET: ["A"], socket.AF_INET6: ["AAAA"]}.get(socket.AddressFamily(family), ["A", "AAAA"])
    number = _port(port)
    found: list[tuple[socket.AddressFamily, str]] = []
    nodata = 0
    for rdtype in wanted:
        try:
            answer = resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        except dns.resolver.NoAnswer:
            nodata += 1
            continue
        except (dns.resolver.NoNameservers, dns.exception.Timeout):  # SERVFAIL, REFUSED, no answer in time
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution") from None
        address_family = socket.AF_INET6 if rdtype == "AAAA" else socket.AF_INET
        found += [(address_family, record.address) for record in answer]
    if not found:
        raise socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
    kinds = [kind] if kind else [socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW]
    protocols: dict[int, int] = {socket.SOCK_STREAM: socket.IPPROTO_TCP, socket.SOCK_DGRAM: socket.IPPROTO_UDP, socket.SOCK_RAW: 0}
    results: list[Any] = []
    for address_family, address in found:
        sockaddr: tuple[Any, ...] = (address, number) if address_family == socket.AF_INET else (address, number, 0, 0)
        for each in kinds:
            results.append((address_family, socket.SocketKind(each), proto or protocols.get(each, 0), "", sockaddr))
    return results


def _port(port: Any) -> int:
    if port is None:
        return 0
    if isinstance(port, bytes):
        port = port.decode()
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        return socket.getservbyname(port, "tcp")
    return int(port)
