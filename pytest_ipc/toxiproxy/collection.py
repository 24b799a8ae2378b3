"""The proxies of one server and the rules for changing them, as Toxiproxy applies them.

Request bodies come in raw because Toxiproxy's checks interleave with its decoding (a toxic's body
is read once for its type and again for that type's attributes), and its error bodies quote the
decoder. Every method runs on the server's event loop; one lock serialises changes, as Go's mutexes
do, so a slow stop cannot interleave with another request's change.

Deliberate differences from upstream, none visible to a client that talks to both:
- an empty `listen` binds 127.0.0.1 on a free port (upstream binds every interface);
- a hostname that does not resolve reads `lookup NAME: no such host` (Go adds its DNS server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from dataclasses import dataclass
from typing import Any

from pytest_ipc._net import LOOPBACK
from pytest_ipc.toxiproxy import gojson
from pytest_ipc.toxiproxy.gojson import (
    BOOL,
    FLOAT32,
    INT,
    INT64,
    STRING,
    GoJsonError,
    Interface,
    Pointer,
    Slice,
    Struct,
)
from pytest_ipc.toxiproxy.model import STREAMS, TOXIC_TYPES, ToxicConfig
from pytest_ipc.toxiproxy.proxy import TcpProxy
from pytest_ipc.toxiproxy.tls import TLS_BODY, TLS_FAULT_BODY, HandshakeFault, Termination, TerminationError


class ApiError(Exception):
    """An error the API reports as `{"error": message, "status": status}`."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bad_request_body(error: GoJsonError) -> ApiError:
    return ApiError(f"bad request body: {error}", 400)


def missing_field(what: str) -> ApiError:
    return ApiError(f"missing required field: {what}", 400)


PROXY_NOT_FOUND = ("proxy not found", 404)
PROXY_EXISTS = ("proxy already exists", 409)
INVALID_STREAM = ("stream was invalid, can be either upstream or downstream", 400)
INVALID_TOXIC_TYPE = ("invalid toxic type", 400)
TOXIC_EXISTS = ("toxic already exists", 409)
TOXIC_NOT_FOUND = ("toxic not found", 404)

# The Go types Toxiproxy decodes request bodies into; their names appear in type errors.
_LOGGER = Struct("Logger", "zerolog.Logger")  # an exported field of Proxy, so the decoder sees it
_PROXY_FIELDS = (("name", STRING), ("listen", STRING), ("upstream", STRING))
# `tls` is pytest-ipc's extension (TLS termination, `toxiproxy.tls`); upstream ignores the field.
PROXY_BODY = Struct("Proxy", "toxiproxy.Proxy", (*_PROXY_FIELDS, ("enabled", BOOL), ("Logger", _LOGGER), ("tls", TLS_BODY)))
_POPULATE_ENTRY = 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'
POPULATE_BODY = Slice(
    Struct("", _POPULATE_ENTRY, (*_PROXY_FIELDS, ("Logger", _LOGGER), ("enabled", Pointer(BOOL)))),
    f"[]{_POPULATE_ENTRY}",
)
TOXIC_BODY = Struct(
    "ToxicWrapper",
    "toxics.ToxicWrapper",
    (
        ("attributes", Interface(Struct("NoopToxic", "toxics.NoopToxic"))),
        ("name", STRING),
        ("type", STRING),
        ("stream", STRING),
        ("toxicity", FLOAT32),
    ),
)
_ATTRIBUTES_TAG = 'Attributes interface {} "json:\\"attributes\\""'


def attributes_struct(toxic_type: str) -> Struct:
    declared = TOXIC_TYPES[toxic_type]
    fields = tuple(
        (attribute.wire_name, INT64 if attribute.go_type == "int64" else INT) for attribute in declared.attributes
    )
    return Struct(declared.go_struct, f"toxics.{declared.go_struct}", fields)


def toxic_attributes_body(toxic_type: str) -> Struct:
    return Struct("", f"struct {{ {_ATTRIBUTES_TAG} }}", (("attributes", Interface(attributes_struct(toxic_type))),))


def toxic_update_body(toxic_type: str) -> Struct:
    return Struct(
        "",
        f'struct {{ {_ATTRIBUTES_TAG}; Toxicity float32 "json:\\"toxicity\\"" }}',
        (("attributes", Interface(attributes_struct(toxic_type))), ("toxicity", FLOAT32)),
    )


def _error(pair: tuple[str, int]) -> ApiError:
    return ApiError(*pair)


# ---------------------------------------------------------------------------------------------
# Addresses as Go's net package resolves them


class AddressError(ValueError):
    """Go's wording for an address that does not resolve (`address foo: missing port in address`)."""


def _split_host_port(address: str) -> tuple[str, str]:
    """net.SplitHostPort, with its error texts."""

    def fail(why: str) -> AddressError:
        return AddressError(f"address {address}: {why}")

    colon = address.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    start, end_of_host = 0, 0
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise fail("missing ']' in address")
        if close + 1 == len(address):
            raise fail("missing port in address")
        if close + 1 != colon:
            raise fail("too many colons in address" if address[close + 1] == ":" else "missing port in address")
        host = address[1:close]
        start, end_of_host = 1, close + 1
    else:
        host = address[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in address[start:]:
        raise fail("unexpected '[' in address")
    if "]" in address[end_of_host:]:
        raise fail("unexpected ']' in address")
    return host, address[colon + 1 :]


def _port_number(service: str) -> int:
    """net.LookupPort for "tcp": a decimal number (optionally signed) or a service name."""
    if service == "":
        return 0
    digits = service[1:] if service[0] in "+-" else service
    if all(char in "0123456789" for char in digits):
        port = -int(digits or "0") if service[0] == "-" else int(digits or "0")
        if not 0 <= port <= 0xFFFF:
            raise AddressError(f"address {service}: invalid port")
        return port
    try:
        return socket.getservbyname(service, "tcp")
    except OSError:
        raise AddressError(f"lookup tcp/{service}: unknown port") from None


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def resolve_tcp_address(address: str) -> str:
    """net.ResolveTCPAddr("tcp", address).String(): hostnames become IPs (IPv4 first)."""
    if address == "":
        return ":0"
    host, service = _split_host_port(address)
    port = _port_number(service)
    if host == "":
        return _join("", port)
    try:
        return _join(str(ipaddress.ip_address(host)), port)
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise AddressError(f"lookup {host}: no such host") from None
    *_, sockaddr = min(infos, key=lambda info: info[0] != socket.AF_INET)  # IPv4 first, as Go
    return _join(str(sockaddr[0]), port)


# ---------------------------------------------------------------------------------------------
# The collection


@dataclass
class PopulateResult:
    """What `/populate` answers: the proxies created or kept so far, and the error that stopped it."""

    proxies: list[TcpProxy]
    error: ApiError | None = None


class ProxyCollection:
    """Named proxies; `seed` makes every proxy's toxicity draws repeatable, in creation order."""

    def __init__(self, seed: int | None = None) -> None:
        self.proxies: dict[str, TcpProxy] = {}
        self._seeds = random.Random(seed)
        self._seeded = seed is not None
        self._lock = asyncio.Lock()

    def _new_proxy(self, name: str, listen: str, upstream: str, tls: Termination | None = None) -> TcpProxy:
        rng = random.Random(self._seeds.getrandbits(64)) if self._seeded else None
        return TcpProxy(name, listen, upstream, rng=rng, tls=tls)

    def get(self, name: str) -> TcpProxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise _error(PROXY_NOT_FOUND)
        return proxy

    # -- proxies ---------------------------------------------------------------------------------
    async def create(self, body: bytes) -> TcpProxy:
        """POST /proxies: body, name, upstream, name clash, then listen, in that order."""
        fields = self._decode(body, PROXY_BODY) or {}
        name, upstream = fields.get("name", ""), fields.get("upstream", "")
        if not name:
            raise missing_field("name")
        if not upstream:
            raise missing_field("upstream")
        async with self._lock:
            if name in self.proxies:
                raise _error(PROXY_EXISTS)
            proxy = self._new_proxy(name, fields.get("listen", ""), upstream, _termination(fields.get("tls"), upstream))
            if fields.get("enabled", True):
                await _start(proxy)
            self.proxies[name] = proxy
            return proxy

    async def populate(self, body: bytes) -> PopulateResult:
        """POST /populate: validate every entry, then add, keep (unchanged) or replace each in turn."""
        try:
            entries = self._decode(body, POPULATE_BODY) or []
            for number, entry in enumerate(entries, start=1):
                if not entry.get("name"):
                    raise missing_field(f"name at proxy {number}")
                if not entry.get("upstream"):
                    raise missing_field(f"upstream at proxy {number}")
        except ApiError as error:
            return PopulateResult([], error)
        result = PopulateResult([])
        async with self._lock:
            for entry in entries:
                try:
                    result.proxies.append(await self._add_or_replace(entry))
                except ApiError as error:
                    result.error = error
                    break
        return result

    async def _add_or_replace(self, entry: dict[str, Any]) -> TcpProxy:
        name, listen, upstream = entry["name"], entry.get("listen", ""), entry["upstream"]
        existing = self.proxies.get(name)
        if existing is not None:
            if not await _differs(existing, listen, upstream):
                return existing
            await existing.stop()
        proxy = self._new_proxy(name, listen, upstream)
        if entry.get("enabled") is not False:
            await _start(proxy)
        self.proxies[name] = proxy
        return proxy

    async def update(self, proxy: TcpProxy, body: bytes) -> TcpProxy:
        """POST/PATCH /proxies/{name}: fields left out keep their value; a new address restarts it."""
        fields = self._decode(body, PROXY_BODY) or {}
        listen = fields.get("listen", proxy.listen)
        upstream = fields.get("upstream", proxy.upstream)
        enabled = fields.get("enabled", proxy.enabled)
        async with self._lock:
            if await _differs(proxy, listen, upstream):
                await proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
            if enabled and not proxy.enabled:
                await _start(proxy)
            elif not enabled and proxy.enabled:
                await proxy.stop()
        return proxy

    async def remove(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            del self.proxies[name]

    async def reset(self) -> None:
        """POST /reset: enable every proxy and remove every toxic; live connections stay open."""
        async with self._lock:
            for proxy in list(self.proxies.values()):
                if not proxy.enabled:
                    await _start(proxy)
                await proxy.remove_all_toxics()
                proxy.set_tls_fault(None)

    async def close(self) -> None:
        """Stop every proxy and forget them (server shutdown)."""
        async with self._lock:
            proxies, self.proxies = list(self.proxies.values()), {}
            await asyncio.gather(*(proxy.stop() for proxy in proxies), return_exceptions=True)

    # -- toxics ----------------------------------------------------------------------------------
    async def add_toxic(self, proxy: TcpProxy, body: bytes) -> ToxicConfig:
        """POST /proxies/{name}/toxics: body, stream, type, name clash, then the type's attributes."""
        fields = self._decode(body, TOXIC_BODY) or {}
        stream = fields.get("stream", "downstream")
        if stream.lower() not in STREAMS:
            raise _error(INVALID_STREAM)
        toxic_type = fields.get("type", "")
        name = fields.get("name") or f"{toxic_type}_{stream}"
        if toxic_type not in TOXIC_TYPES:
            raise _error(INVALID_TOXIC_TYPE)
        async with self._lock:
            if proxy.get_toxic(name) is not None:
                raise _error(TOXIC_EXISTS)
            given = (self._decode(body, toxic_attributes_body(toxic_type)) or {}).get("attributes") or {}
            attributes = {attribute: given.get(attribute, 0) for attribute in TOXIC_TYPES[toxic_type].wire_names}
            toxicity = fields.get("toxicity", 1.0)
            toxic = ToxicConfig(name, toxic_type, stream, toxicity, attributes)
            await proxy.add_toxic(toxic)
            return toxic

    async def update_toxic(self, proxy: TcpProxy, name: str, body: bytes) -> ToxicConfig:
        """POST/PATCH /proxies/{name}/toxics/{toxic}: attributes merged, toxicity replaced if given."""
        async with self._lock:
            toxic = proxy.get_toxic(name)
            if toxic is None:
                raise _error(TOXIC_NOT_FOUND)
            fields = self._decode(body, toxic_update_body(toxic.type)) or {}
            attributes = {**toxic.attributes, **(fields.get("attributes") or {})}
            return await proxy.update_toxic(name, attributes, fields.get("toxicity", toxic.toxicity))

    async def remove_toxic(self, proxy: TcpProxy, name: str) -> None:
        async with self._lock:
            if proxy.get_toxic(name) is None:
                raise _error(TOXIC_NOT_FOUND)
            await proxy.remove_toxic(name)

    # -- TLS faults (pytest-ipc's extension, terminating proxies only) -----------------------------
    async def set_tls_fault(self, proxy: TcpProxy, body: bytes) -> HandshakeFault:
        """POST /proxies/{name}/tls_fault: the fault the proxy's handshakes meet from now on (replacing any)."""
        fields = self._decode(body, TLS_FAULT_BODY) or {}
        if proxy.tls is None:
            raise ApiError(
                "proxy passes TLS through: only a proxy created with a tls object (terminating TLS) presents certificates", 400
            )
        try:
            fault = HandshakeFault.from_fields(fields, proxy.tls)
        except TerminationError as error:
            raise ApiError(str(error), 400) from None
        async with self._lock:
            proxy.set_tls_fault(fault)
        return fault

    async def clear_tls_fault(self, proxy: TcpProxy) -> None:
        """DELETE /proxies/{name}/tls_fault: handshakes are the termination's own again (idempotent)."""
        async with self._lock:
            proxy.set_tls_fault(None)

    @staticmethod
    def _decode(body: bytes, target: gojson.GoType) -> Any:
        try:
            return gojson.decode(body, target)
        except GoJsonError as error:
            raise bad_request_body(error) from None


async def _differs(proxy: TcpProxy, listen: str, upstream: str) -> bool:
    """Go's Proxy.Differs: the new listen address, resolved, or the upstream is not what the proxy has."""
    try:
        resolved = await resolve_tcp_address(listen)
    except AddressError as error:
        raise ApiError(str(error), 500) from None
    return proxy.listen != resolved or proxy.upstream != upstream


def _termination(fields: dict[str, str] | None, upstream: str) -> Termination | None:
    """The proxy's TLS termination from its `tls` object (None: bytes pass through untouched)."""
    if fields is None:
        return None
    try:
        return Termination.from_fields(fields, upstream)
    except TerminationError as error:
        raise ApiError(str(error), 400) from None


async def _start(proxy: TcpProxy) -> None:
    """Start listening; a failure is a 500 worded as Go's `net.Listen` error."""
    if proxy.listen == "":
        proxy.listen = f"{LOOPBACK}:0"
    try:
        await resolve_tcp_address(proxy.listen)
    except AddressError as error:
        raise ApiError(f"listen tcp: {error}", 500) from None
    try:
        await proxy.start()
    except OSError as error:
        raise ApiError(str(error), 500) from None
