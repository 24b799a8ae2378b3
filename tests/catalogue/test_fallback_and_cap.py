"""Properties: during an outage the client serves its last good answer, marked as degraded; the
client caps its concurrent requests, running up to the cap at once and failing the excess fast.

"Marked" here means the answer says it is degraded (`Price.degraded`): a cached price shown as
current misleads every caller, so a fallback without the mark is a defect (an *unmarked fallback*).

Defects: no fallback (aiohttp, requests); unmarked fallback (aiohttp, requests); cap exceeded, no cap
(httpx async); cap serialised, a lock held for the whole call (httpx)."""

from __future__ import annotations

import threading
from collections.abc import Coroutine
from dataclasses import dataclass

import aiohttp
import httpx
import requests

from pytest_ipc import faults
from pytest_ipc.resilience import assert_fallback, assert_request_cap
from pytest_ipc.stub import HttpStub, Route
from tests.catalogue.variants import PRICE, TLS, Variant, variants, verdict

NO_FALLBACK = r"no fallback: expected Price\(eur=3\.5, degraded=True\) during the outage; the call raised"
UNMARKED = r"unmarked fallback: the call served Price\(eur=3\.5, degraded=False\) during the outage, but `degraded` finds no mark"
EXCEEDED = r"request cap exceeded: expected at most 2 request\(s\) in flight at the stub, measured [3-6]"
SERIALISED = r"request cap serialised: expected exactly 2 request\(s\) in flight at the peak .*measured at most 1 at once"


@dataclass(frozen=True)
class Price:
    eur: float
    degraded: bool = False


class CachingClient:
    """Remembers the last good price; `fallback` is "marked", "unmarked" or "none"."""

    def __init__(self, base_url: str, library: str, fallback: str) -> None:
        self.url, self.library, self.fallback = base_url + "/price", library, fallback
        self.last: float | None = None

    def _served(self, error: Exception) -> Price:
        if self.fallback == "none" or self.last is None:
            raise error
        return Price(self.last, degraded=self.fallback == "marked")

    def price(self) -> Price | Coroutine[object, object, Price]:
        if self.library == "aiohttp":
            return self._aiohttp()  # awaited by the caller (the assertion runs it on a loop)
        try:
            self.last = float(requests.get(self.url, timeout=0.5).json()["eur"])
        except requests.RequestException as error:
            return self._served(error)
        return Price(self.last)

    async def _aiohttp(self) -> Price:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session, session.get(self.url) as answer:
                self.last = float((await answer.json())["eur"])
        except aiohttp.ClientError as error:
            return self._served(error)
        return Price(self.last)


@variants(
    Variant("marked-fallback", "requests", lambda url: CachingClient(url, "requests", "marked")),
    Variant("no-fallback", "requests", lambda url: CachingClient(url, "requests", "none"), NO_FALLBACK),
    Variant("unmarked-fallback", "requests", lambda url: CachingClient(url, "requests", "unmarked"), UNMARKED),
    Variant("marked-fallback", "aiohttp", lambda url: CachingClient(url, "aiohttp", "marked")),
    Variant("no-fallback", "aiohttp", lambda url: CachingClient(url, "aiohttp", "none"), NO_FALLBACK),
    Variant("unmarked-fallback", "aiohttp", lambda url: CachingClient(url, "aiohttp", "unmarked"), UNMARKED),
)
def test_an_outage_serves_the_last_good_answer_marked_degraded(http_stub: HttpStub, price_route: Route, variant: Variant) -> None:
    client = variant.make(http_stub.url)
    assert_fallback(client.price, Price(PRICE))  # healthy: fresh and unmarked, now cached
    with faults.inject(faults.reset(), into=http_stub), verdict(variant):
        assert_fallback(client.price, Price(PRICE, degraded=True), degraded=lambda answer: answer.degraded)


class TooBusy(Exception):
    """The cap is full: refused at once."""


class CappedSync:
    """httpx with a cap of 2 (a non-blocking semaphore); `serialised` also holds a lock for the call."""

    def __init__(self, base_url: str, *, serialised: bool = False) -> None:
        self.url, self.serialised = base_url + "/price", serialised
        self.slots = threading.BoundedSemaphore(2)
        self.lock = threading.Lock()  # e.g. a breaker or a connection wrapper that locks around the call
        self.http = httpx.Client(timeout=2, verify=TLS, limits=httpx.Limits(max_connections=10))

    def price(self) -> float:
        if not self.slots.acquire(blocking=False):
            raise TooBusy("2 calls in flight")
        try:
            if self.serialised:
                with self.lock:
                    return float(self.http.get(self.url).json()["eur"])
            return float(self.http.get(self.url).json()["eur"])
        finally:
            self.slots.release()


class CappedAsync:
    """httpx.AsyncClient with a cap of 2 (a counter shared by every loop), or none."""

    def __init__(self, base_url: str, *, cap: int | None = 2) -> None:
        self.url, self.cap = base_url + "/price", cap
        self.in_flight = 0
        self.lock = threading.Lock()

    async def price(self) -> float:
        with self.lock:
            if self.cap is not None and self.in_flight >= self.cap:
                raise TooBusy(f"{self.cap} calls in flight")
            self.in_flight += 1
        try:
            async with httpx.AsyncClient(timeout=2, verify=TLS) as http:
                return float((await http.get(self.url)).json()["eur"])
        finally:
            with self.lock:
                self.in_flight -= 1


@variants(
    Variant("cap", "httpx", lambda url: CappedSync(url)),
    Variant("cap-serialised", "httpx", lambda url: CappedSync(url, serialised=True), SERIALISED),
    Variant("cap", "httpx-async", lambda url: CappedAsync(url)),
    Variant("no-cap", "httpx-async", lambda url: CappedAsync(url, cap=None), EXCEEDED),
)
def test_the_cap_runs_up_to_its_limit_at_once_and_fails_the_excess_fast(http_stub: HttpStub, price_route: Route, variant: Variant) -> None:
    client = variant.make(http_stub.url)
    with verdict(variant):
        outcomes = assert_request_cap(http_stub, 2, call=client.price, concurrency=6, fail_fast=0.1)
        assert [outcome.value for outcome in outcomes].count(PRICE) == 2
