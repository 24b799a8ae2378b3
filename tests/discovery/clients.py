"""Real clients of a service of many instances: one order lookup (GET /order -> its "id"), made
resilient by hand the way services do (client-side balancing), or broken in exactly one respect.

`Balancer` owns the choice of instance: it resolves the service (`resolve`: a function returning the
addresses and their TTL), round-robins over them, ejects an instance that failed for `eject_for`
seconds, and bounds the requests in flight per instance (`per_instance`). The HTTP itself is made
by requests, httpx (sync and async) or aiohttp, to ``http://<address>:<port>/order`` with the
service's name in the Host header. The broken variants switch one property off:
``sticky=True`` (always the first address), ``eject_for=None`` (keeps calling a failing instance),
``eject_for=FOREVER`` (never takes it back), ``per_instance=None`` (no per-instance limit),
``cache_forever=True`` (resolves once), ``stale_on_error=False`` (a failed lookup reaches the caller).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import requests

FOREVER = float("inf")
Resolve = Callable[[], tuple[list[tuple[str, int]], float]]  # (addresses, seconds they may be kept)


class NoInstance(Exception):
    """Every instance failed or is ejected."""


def fixed(addresses: list[tuple[str, int]]) -> Resolve:
    """The instances given up front (no DNS): kept forever."""
    return lambda: (list(addresses), FOREVER)


def system(name: str, port: int, ttl: float = 1.0) -> Resolve:
    """The service resolved by socket.getaddrinfo (pointed at ipc_dns by system_resolver), kept `ttl` s
    (getaddrinfo reports no TTL: the caller says what the records carry)."""

    def resolve() -> tuple[list[tuple[str, int]], float]:
        infos = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)
        addresses = list(dict.fromkeys((info[4][0], port) for info in infos))
        return addresses, ttl

    return resolve


def dnspython(resolver: Any, name: str, port: int) -> Resolve:
    """The service resolved by a dnspython Resolver, kept for the answer's TTL."""

    def resolve() -> tuple[list[tuple[str, int]], float]:
        answer = resolver.resolve(name, "A", search=False)
        return sorted((record.address, port) for record in answer), float(answer.rrset.ttl)

    return resolve


@dataclass
class Balancer:
    resolve: Resolve
    eject_for: float | None = 0.5
    per_instance: int | None = None
    sticky: bool = False
    cache_forever: bool = False
    stale_on_error: bool = True
    _addresses: list[tuple[str, int]] = field(default_factory=list)
    _expires: float = 0.0
    _turn: int = 0
    _ejected: dict[tuple[str, int], float] = field(default_factory=dict)
    _in_flight: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def addresses(self) -> list[tuple[str, int]]:
        if self._addresses and (self.cache_forever or time.monotonic() < self._expires):
            return self._addresses
        try:
            addresses, ttl = self.resolve()
        except Exception:
            if self._addresses and self.stale_on_error:
                return self._addresses  # serve stale rather than fail: the instances are likely still there
            raise
        self._addresses, self._expires = addresses, time.monotonic() + ttl
        return addresses

    def order(self) -> list[tuple[str, int]]:
        """The addresses to try for one call, healthy ones first in round-robin order."""
        addresses = self.addresses()
        with self._lock:
            if self.sticky:
                return addresses[:1]
            start = self._turn % len(addresses)
            self._turn += 1
            now = time.monotonic()
            turned = addresses[start:] + addresses[:start]
            return [address for address in turned if self._ejected.get(address, 0.0) <= now]

    def acquire(self, address: tuple[str, int]) -> bool:
        with self._lock:
            if self.per_instance is not None and self._in_flight.get(address, 0) >= self.per_instance:
                return False
            self._in_flight[address] = self._in_flight.get(address, 0) + 1
            return True

    def release(self, address: tuple[str, int], failed: bool) -> None:
        with self._lock:
            self._in_flight[address] -= 1
            if failed and self.eject_for is not None:
                self._ejected[address] = time.monotonic() + self.eject_for


def _url(address: tuple[str, int]) -> str:
    return f"http://{address[0]}:{address[1]}/order"


class SyncOrders:
    """requests or httpx (sync), with the balancer choosing the instance per call."""

    def __init__(self, library: str, balancer: Balancer, host: str | None = None) -> None:
        self.library = library
        self.balancer = balancer
        self.headers = {"host": host} if host else {}
        self.httpx = httpx.Client(timeout=2.0) if library == "httpx" else None
        self.requests = requests.Session() if library == "requests" else None

    def _get(self, address: tuple[str, int]) -> tuple[int, Any]:
        if self.httpx is not None:
            response = self.httpx.get(_url(address), headers=self.headers)
            return response.status_code, response.json() if response.status_code < 300 else None
        assert self.requests is not None
        answer = self.requests.get(_url(address), headers=self.headers, timeout=2.0)
        return answer.status_code, answer.json() if answer.status_code < 300 else None

    def order(self) -> object:
        for address in self.balancer.order():
            if not self.balancer.acquire(address):
                continue
            failed = True
            try:
                status, document = self._get(address)
                failed = status >= 500
                if not failed:
                    return document["id"]
            except (httpx.HTTPError, requests.RequestException):
                pass
            finally:
                self.balancer.release(address, failed)
        raise NoInstance("every instance failed, is ejected or at its limit")

    def close(self) -> None:
        if self.httpx is not None:
            self.httpx.close()
        if self.requests is not None:
            self.requests.close()


class AsyncOrders:
    """httpx.AsyncClient or aiohttp, with the balancer choosing the instance per call; made per event loop."""

    def __init__(self, library: str, balancer: Balancer, host: str | None = None) -> None:
        self.library = library
        self.balancer = balancer
        self.headers = {"host": host} if host else {}
        self.httpx: httpx.AsyncClient | None = None
        self.aiohttp: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    async def _get(self, address: tuple[str, int]) -> tuple[int, Any]:
        if self.library == "httpx":
            if self.httpx is None:
                self.httpx = httpx.AsyncClient(timeout=2.0)
            response = await self.httpx.get(_url(address), headers=self.headers)
            return response.status_code, response.json() if response.status_code < 300 else None
        if self.aiohttp is None:
            self.aiohttp = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0))
        async with self.aiohttp.get(_url(address), headers=self.headers) as answer:
            return answer.status, await answer.json() if answer.status < 300 else None

    async def order(self) -> object:
        for address in self.balancer.order():
            if not self.balancer.acquire(address):
                continue
            failed = True
            try:
                status, document = await self._get(address)
                failed = status >= 500
                if not failed:
                    return document["id"]
            except (httpx.HTTPError, aiohttp.ClientError):
                pass
            finally:
                self.balancer.release(address, failed)
        raise NoInstance("every instance failed, is ejected or at its limit")

    async def close(self) -> None:
        if self.httpx is not None:
            await self.httpx.aclose()
        if self.aiohttp is not None:
            await self.aiohttp.close()
