"""Real clients under test: one price lookup (GET /price -> its "eur" field), made resilient with
real libraries, or deliberately fragile in exactly one respect so an assertion has something to catch.

- httpx sync + tenacity + pybreaker, requests + tenacity + circuitbreaker, httpx async + tenacity +
  purgatory; each with a timeout, a fallback value and a concurrency cap that fails the excess fast.
- `Policy` switches one property off at a time: `timeout=None`, `threshold=NEVER`, `fallback=NONE`,
  `cap=None`.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import circuitbreaker
import httpx
import pybreaker
import requests
import tenacity
from purgatory import AsyncCircuitBreakerFactory

TLS = ssl.create_default_context()
FALLBACK = -1.0
NONE = object()  # no fallback: errors reach the caller
NEVER = 1_000_000  # a breaker threshold never reached: the breaker never opens


class UpstreamError(Exception):
    """The dependency failed: a transport error or a 5xx."""


class CapExceeded(Exception):
    """The concurrency cap is full; the call is refused without waiting."""


@dataclass(frozen=True)
class Policy:
    timeout: float | None = 0.3
    attempts: int = 3
    backoff: float = 0.05  # tenacity wait_exponential multiplier: 0.05, 0.1, 0.2 ...
    threshold: int = 3
    cool_down: float = 0.3
    fallback: object = FALLBACK
    cap: int | None = 2


def _retrying(policy: Policy) -> dict[str, Any]:
    return {
        "stop": tenacity.stop_after_attempt(policy.attempts),
        "wait": tenacity.wait_exponential(multiplier=policy.backoff),
        "retry": tenacity.retry_if_exception_type(UpstreamError),
        "reraise": True,
    }


def _price(status: int, document: Callable[[], Any]) -> float:
    if status >= 500:
        raise UpstreamError(f"upstream answered {status}")
    return float(document()["eur"])


class SyncPriceClient:
    """httpx (breaker: pybreaker) or requests (breaker: circuitbreaker), same policy."""

    def __init__(self, base_url: str, policy: Policy = Policy(), *, library: str = "httpx") -> None:
        self.url = base_url + "/price"
        self.policy = policy
        self.library = library
        self._cap = threading.BoundedSemaphore(policy.cap) if policy.cap else None
        retrying = tenacity.Retrying(**_retrying(policy))
        self._guarded: Callable[[], float]
        if library == "httpx":
            self.http = httpx.Client(timeout=policy.timeout)
            self.breaker: Any = pybreaker.CircuitBreaker(fail_max=policy.threshold, reset_timeout=policy.cool_down)
            self._guarded = lambda: self.breaker.call(retrying, self._fetch)
        else:
            self.session = requests.Session()
            self.breaker = circuitbreaker.CircuitBreaker(failure_threshold=policy.threshold, recovery_timeout=policy.cool_down)
            self._guarded = self.breaker.decorate(lambda: retrying(self._fetch))  # its open check lives in the decorator

    def close(self) -> None:
        if self.library == "httpx":
            self.http.close()
        else:
            self.session.close()

    def price(self) -> float:
        try:
            return self._capped()
        except Exception:
            if self.policy.fallback is NONE:
                raise
            return self.policy.fallback  # type: ignore[return-value]

    def _capped(self) -> float:
        if self._cap is None:
            return self._guarded()
        if not self._cap.acquire(blocking=False):
            raise CapExceeded(f"{self.policy.cap} calls already in flight")
        try:
            return self._guarded()
        finally:
            self._cap.release()

    def _fetch(self) -> float:
        try:
            if self.library == "httpx":
                response = self.http.get(self.url)
                return _price(response.status_code, response.json)
            answer = self.session.get(self.url, timeout=self.policy.timeout)
            return _price(answer.status_code, answer.json)
        except (httpx.TransportError, requests.RequestException) as error:
            raise UpstreamError(f"{type(error).__name__}: {error}") from error


class AsyncPriceClient:
    """httpx.AsyncClient + tenacity + purgatory. `price()` opens its AsyncClient inside the call, so
    each call may run on its own event loop (as the resilience assertions run them)."""

    CIRCUIT = "price"

    def __init__(self, base_url: str, policy: Policy = Policy()) -> None:
        self.url = base_url + "/price"
        self.policy = policy
        self.breakers = AsyncCircuitBreakerFactory(default_threshold=policy.threshold, default_ttl=policy.cool_down)
        self._in_flight = 0
        self._lock = threading.Lock()  # calls may run on several loops (threads) at once

    async def price(self) -> float:
        try:
            return await self._capped()
        except Exception:
            if self.policy.fallback is NONE:
                raise
            return self.policy.fallback  # type: ignore[return-value]

    async def _capped(self) -> float:
        with self._lock:
            if self.policy.cap is not None and self._in_flight >= self.policy.cap:
                raise CapExceeded(f"{self.policy.cap} calls already in flight")
            self._in_flight += 1
        try:
            async with await self.breakers.get_breaker(self.CIRCUIT), self._http() as http:
                async for attempt in tenacity.AsyncRetrying(**_retrying(self.policy)):
                    with attempt:
                        return await self._fetch(http)
        finally:
            with self._lock:
                self._in_flight -= 1
        raise AssertionError("not reached: tenacity reraises the last error")

    def _http(self) -> httpx.AsyncClient:
        # One TLS context for every call: building one loads the CA bundle (tens of milliseconds).
        return httpx.AsyncClient(timeout=self.policy.timeout, verify=TLS)

    async def _fetch(self, http: httpx.AsyncClient) -> float:
        try:
            response = await http.get(self.url)
            return _price(response.status_code, response.json)
        except httpx.TransportError as error:
            raise UpstreamError(f"{type(error).__name__}: {error}") from error
