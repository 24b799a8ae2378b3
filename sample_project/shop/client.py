"""The shop's client of the orders API, with the resilience a production client needs.

- a timeout per attempt and a deadline for the whole call (`timeout_s`, `deadline_s`);
- retries with exponential backoff and jitter on transport errors, 5xx and 429 (tenacity);
- a circuit breaker that stops calling a failing API for a while (pybreaker);
- a cap on requests in flight: callers beyond it wait `queue_timeout_s`, then fail fast;
- a cached fallback: the last good answer per order, marked `stale`, when the API cannot answer;
- a fresh service token on 401 (key rotation), once per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Self

import httpx
import pybreaker
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from .cache import TTLCache
from .orders import READERS, OrderView

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class OrdersError(Exception):
    """Base of what the client raises."""


class OrderNotFound(OrdersError):
    """The API answered: there is no such order (not a failure of the API)."""


class OrdersUnavailable(OrdersError):
    """The API could not answer in time and there was no cached answer to fall back on."""


class TooBusy(OrdersUnavailable):
    """Every slot was taken for `queue_timeout_s`: the call failed fast instead of piling up."""


class RetryableStatus(OrdersError):
    def __init__(self, status: int) -> None:
        super().__init__(f"orders API answered {status}")
        self.status = status


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


class OrdersClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        api_version: str = "v2",
        timeout_s: float = 0.5,
        deadline_s: float = 2.0,
        attempts: int = 3,
        backoff_s: float = 0.02,
        max_in_flight: int = 4,
        queue_timeout_s: float = 0.2,
        breaker: pybreaker.CircuitBreaker | None = None,
        cache_ttl_s: float = 60.0,
    ) -> None:
        if api_version not in READERS:
            raise ValueError(f"unknown orders API version {api_version!r}; choose one of: {', '.join(READERS)}")
        self.api_version = api_version
        self.credentials = credentials
        self.deadline_s = deadline_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.queue_timeout_s = queue_timeout_s
        self.breaker = breaker or pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30, exclude=[OrderNotFound])
        self.cache: TTLCache[int, OrderView] = TTLCache(cache_ttl_s)
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self.token_refreshes = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the shop's calls -------------------------------------------------------------------------
    def get_order(self, order_id: int) -> OrderView:
        """The order, fresh; or the cached copy (`stale=True`) when the API cannot answer."""
        try:
            order = self._call(lambda: self._request("GET", f"/{self.api_version}/orders/{order_id}"))
        except OrdersUnavailable:
            cached = self.cache.get(order_id)
            if cached is None:
                raise
            return replace(cached, stale=True)
        self.cache.put(order_id, order)
        return order

    def place_order(self, sku: str, quantity: int, unit_price_cents: int) -> OrderView:
        if self.api_version == "v1":
            body: dict[str, Any] = {"sku": sku, "quantity": quantity, "unit_price": unit_price_cents / 100}
        else:
            body = {"items": [{"sku": sku, "quantity": quantity, "unit_price_cents": unit_price_cents}]}
        order = self._call(lambda: self._request("POST", f"/{self.api_version}/orders", json=body))
        self.cache.put(order.id, order)
        return order

    # -- resilience -------------------------------------------------------------------------------
    def _call(self, send: Callable[[], httpx.Response]) -> OrderView:
        with self._slot():
            try:
                response = self.breaker.call(self._with_retries, send)
            except pybreaker.CircuitBreakerError as error:
                raise OrdersUnavailable(f"circuit open: {error}") from error
            except (httpx.TransportError, RetryableStatus) as error:
                raise OrdersUnavailable(f"orders API failed after retries: {error!r}") from error
        return READERS[self.api_version](response.json())

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.queue_timeout_s):
            raise TooBusy(f"all request slots busy for {self.queue_timeout_s} s")
        try:
            yield
        finally:
            self._slots.release()

    def _with_retries(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline_s),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.backoff_s * 8) + wait_random(0, self.backoff_s),
            retry=retry_if_exception_type((httpx.TransportError, RetryableStatus)),
            reraise=True,
        )
        return retrying(self._attempt, send)

    def _attempt(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        response = send()
        if response.status_code in RETRYABLE_STATUS:
            raise RetryableStatus(response.status_code)
        if response.status_code == 404:
            raise OrderNotFound(response.text)
        response.raise_for_status()
        return response

    # -- auth -------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with the current token; on 401 fetch a new token and send once more."""
        token = self._current_token()
        response = self._http.request(method, path, headers={"authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401:
            token = self._refresh_token(stale=token)
            response = self._http.request(method, path, headers={"authorization": f"Bearer {token}"}, **kwargs)
        return response

    def _current_token(self) -> str:
        with self._token_lock:
            if self._token is None:
                self._token = self._fetch_token()
            return self._token

    def _refresh_token(self, stale: str) -> str:
        with self._token_lock:
            if self._token == stale:  # another thread may have refreshed already
                self._token = self._fetch_token()
                self.token_refreshes += 1
            assert self._token is not None
            return self._token

    def _fetch_token(self) -> str:
        response = self._http.post(
            "/auth/token",
            json={"client_id": self.credentials.client_id, "client_secret": self.credentials.client_secret},
        )
        if response.status_code in RETRYABLE_STATUS:
            raise RetryableStatus(response.status_code)
        response.raise_for_status()
        return str(response.json()["access_token"])
