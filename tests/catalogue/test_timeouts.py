"""Property: a call ends within its budget, whatever the dependency does: hangs, or dribbles its
answer (a per-read timeout never fires on a trickle: only a deadline on the whole call ends it).

Defects: no timeout (requests, httpx async, aiohttp); a per-attempt timeout looping on retries with
no overall deadline (requests); a per-read timeout only under a dribbled body (requests, httpx,
aiohttp)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import httpx
import requests

from pytest_ipc import faults
from pytest_ipc.resilience import assert_timeout_honoured
from pytest_ipc.stub import HttpStub, Route
from tests.catalogue.variants import BUDGET, TLS, Variant, variants, verdict

NO_TIMEOUT = r"Measured at the stub: one request, held .* while the client waited: it sets no timeout on the request"
NO_DEADLINE = (
    r"Measured at the stub: \d+ attempts over .* Each attempt has a timeout, but nothing bounds the whole call: add an overall deadline"
)
TRICKLE = r"Measured at the stub: one request, its answer trickling in .* the client has no total deadline on the call"


class RequestsClient:
    def __init__(self, base_url: str, timeout: float | None, attempts: int = 1, deadline: float | None = None) -> None:
        self.url, self.timeout, self.attempts, self.deadline = base_url + "/price", timeout, attempts, deadline

    def price(self) -> float:
        started = time.monotonic()
        for attempt in range(self.attempts):
            left = None if self.deadline is None else self.deadline - (time.monotonic() - started)
            if left is not None and left <= 0:
                raise TimeoutError("deadline")
            timeout = self.timeout if left is None or self.timeout is None else min(self.timeout, left)
            try:
                return float(requests.get(self.url, timeout=timeout).json()["eur"])
            except requests.RequestException:
                if attempt + 1 == self.attempts:
                    raise
                time.sleep(0.05)
        raise AssertionError("not reached")


class HttpxAsyncClient:
    def __init__(self, base_url: str, timeout: float | None) -> None:
        self.url, self.timeout = base_url + "/price", timeout

    async def price(self) -> float:
        async with httpx.AsyncClient(timeout=self.timeout, verify=TLS) as client:
            return float((await client.get(self.url)).json()["eur"])


class AiohttpClient:
    def __init__(self, base_url: str, timeout: aiohttp.ClientTimeout) -> None:
        self.url, self.timeout = base_url + "/price", timeout

    async def price(self) -> float:
        async with aiohttp.ClientSession(timeout=self.timeout) as session, session.get(self.url) as answer:
            return float((await answer.json())["eur"])


@variants(
    Variant("timeout", "requests", lambda url: RequestsClient(url, timeout=0.3)),
    Variant("no-timeout", "requests", lambda url: RequestsClient(url, timeout=None), NO_TIMEOUT),
    Variant("timeout", "httpx-async", lambda url: HttpxAsyncClient(url, timeout=0.3)),
    Variant("no-timeout", "httpx-async", lambda url: HttpxAsyncClient(url, timeout=None), NO_TIMEOUT),
    Variant("timeout", "aiohttp", lambda url: AiohttpClient(url, aiohttp.ClientTimeout(total=0.3))),
    Variant("no-timeout", "aiohttp", lambda url: AiohttpClient(url, aiohttp.ClientTimeout()), NO_TIMEOUT),  # aiohttp's default: 5 minutes
    Variant("retries-within-deadline", "requests", lambda url: RequestsClient(url, timeout=0.2, attempts=50, deadline=0.8)),
    Variant("retry-loop-without-deadline", "requests", lambda url: RequestsClient(url, timeout=0.2, attempts=50), NO_DEADLINE),
)
def test_the_call_ends_within_its_budget_while_the_dependency_hangs(http_stub: HttpStub, price_route: Route, variant: Variant) -> None:
    client = variant.make(http_stub.url)
    with faults.inject(faults.hang(), into=http_stub), verdict(variant):
        assert_timeout_honoured(client.price, budget=BUDGET, stub=http_stub)


class Streaming:
    """Reads the answer piece by piece; `deadline` (seconds for the whole call) or None."""

    def __init__(self, base_url: str, library: str, deadline: float | None) -> None:
        self.url, self.library, self.deadline = base_url + "/price", library, deadline

    def _check(self, started: float) -> None:
        if self.deadline is not None and time.monotonic() - started > self.deadline:
            raise TimeoutError(f"no answer within {self.deadline} s")

    def price(self) -> Any:
        started, body = time.monotonic(), b""
        if self.library == "requests":
            with requests.get(self.url, timeout=0.5, stream=True) as answer:  # 0.5 s per read
                for piece in answer.iter_content(64):
                    body += piece
                    self._check(started)
        else:
            with httpx.Client(timeout=0.5, verify=TLS) as client, client.stream("GET", self.url) as answer:
                for piece in answer.iter_bytes():
                    body += piece
                    self._check(started)
        return len(body)


class AsyncStreaming:
    def __init__(self, base_url: str, library: str, deadline: float | None) -> None:
        self.url, self.library, self.deadline = base_url + "/price", library, deadline

    async def price(self) -> int:
        async with asyncio.timeout(self.deadline):
            if self.library == "aiohttp":
                timeout = aiohttp.ClientTimeout(total=None, sock_read=0.5)
                async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.url) as answer:
                    return len(await answer.read())
            async with httpx.AsyncClient(timeout=0.5, verify=TLS) as client:
                return len((await client.get(self.url)).content)


@variants(
    Variant("deadline", "requests", lambda url: Streaming(url, "requests", BUDGET - 0.1)),
    Variant("per-read-timeout-only", "requests", lambda url: Streaming(url, "requests", None), TRICKLE),
    Variant("deadline", "httpx", lambda url: Streaming(url, "httpx", BUDGET - 0.1)),
    Variant("per-read-timeout-only", "httpx", lambda url: Streaming(url, "httpx", None), TRICKLE),
    Variant("deadline", "aiohttp", lambda url: AsyncStreaming(url, "aiohttp", BUDGET - 0.1)),
    Variant("sock-read-timeout-only", "aiohttp", lambda url: AsyncStreaming(url, "aiohttp", None), TRICKLE),
    Variant("deadline", "httpx-async", lambda url: AsyncStreaming(url, "httpx", BUDGET - 0.1)),
    Variant("per-read-timeout-only", "httpx-async", lambda url: AsyncStreaming(url, "httpx", None), TRICKLE),
)
def test_the_call_ends_within_its_budget_while_the_answer_dribbles(http_stub: HttpStub, variant: Variant) -> None:
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5, "history": list(range(300))})
    client = variant.make(http_stub.url)
    with faults.inject(faults.dribble(3.0), into=http_stub), verdict(variant):
        assert_timeout_honoured(client.price, budget=BUDGET, stub=http_stub)
