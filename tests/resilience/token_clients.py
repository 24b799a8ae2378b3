"""Real service clients with OAuth2 client credentials: list orders (GET /v1/orders, scope orders:read)
with a token from the stub's token endpoint, on requests, httpx (sync and async) and aiohttp.

`Habits` is the correct client by default; each broken variant switches one habit off:
`refresh=False` (fetches one token and keeps it, even after a 401), `margin=None` (refreshes only
when a 401 says the token expired), `retry_403=True`, `retries_401=None` (retries a 401 forever),
`scope=None` (asks for no scope, so it gets every scope its registration allows).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import requests

CLIENT_ID, SECRET, SCOPE = "billing", "s3cret", "orders:read"
ORDERS = [{"id": "o-1"}]
MOST_403_RETRIES = 3
TLS = ssl.create_default_context()  # one for every httpx client: building one loads the CA bundle (tens of ms)


class ApiError(Exception):
    """The API refused the call; `status` says how."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the orders API answered {status}")
        self.status = status


@dataclass(frozen=True)
class Habits:
    refresh: bool = True
    margin: float | None = 0.2  # refresh when less than this share of the lifetime is left; None: only at a 401
    retry_403: bool = False
    retries_401: int | None = 1  # None: forever
    scope: str | None = SCOPE
    stall_after_refresh: float = 0.0  # seconds between its first refreshed token and its use: a loaded host


class _Token:
    """The token held between calls and when it must be replaced."""

    def __init__(self, habits: Habits) -> None:
        self.habits = habits
        self.value: str | None = None
        self.renew_at = 0.0
        self.fetched = 0

    def usable(self) -> bool:
        if self.value is None:
            return False
        return not self.habits.refresh or self.habits.margin is None or time.monotonic() < self.renew_at

    def keep(self, answer: dict[str, Any], asked_at: float) -> str:
        lifetime = float(answer["expires_in"])
        self.value = str(answer["access_token"])
        self.renew_at = asked_at + lifetime * (1 - (self.habits.margin or 0.0))
        self.fetched += 1
        if self.fetched == 2:
            time.sleep(self.habits.stall_after_refresh)  # blocks an event loop too, as a loaded host does
        return self.value

    def form(self) -> dict[str, str]:
        form = {"grant_type": "client_credentials"}
        if self.habits.scope is not None:
            form["scope"] = self.habits.scope
        return form

    def drop(self) -> None:
        """Forget the token after a 401/403, unless the client never refreshes."""
        if self.habits.refresh:
            self.value = None

    def again(self, status: int, retries: int) -> bool:
        """Whether to try once more after `status` (on the `retries`-th retry)."""
        if status == 401:
            return self.habits.retries_401 is None or retries < self.habits.retries_401
        return status == 403 and self.habits.retry_403 and retries < MOST_403_RETRIES


class SyncOrders:
    """requests or httpx, the same habits."""

    def __init__(self, base_url: str, habits: Habits = Habits(), *, library: str = "httpx") -> None:
        self.base_url, self.library, self.token = base_url, library, _Token(habits)
        self.http: Any = httpx.Client(timeout=2.0, verify=TLS) if library == "httpx" else requests.Session()

    def close(self) -> None:
        self.http.close()

    def _bearer(self) -> str:
        if self.token.usable():
            return str(self.token.value)
        asked_at = time.monotonic()
        answer = self.http.post(self.base_url + "/oauth/token", data=self.token.form(), auth=(CLIENT_ID, SECRET), timeout=2.0)
        answer.raise_for_status()
        return self.token.keep(answer.json(), asked_at)

    def orders(self) -> Any:
        retries = 0
        while True:
            answer = self.http.get(self.base_url + "/v1/orders", headers={"authorization": f"Bearer {self._bearer()}"}, timeout=2.0)
            if answer.status_code < 400:
                return answer.json()
            if not self.token.again(answer.status_code, retries):
                raise ApiError(answer.status_code)
            retries += 1
            self.token.drop()


class HttpxAsyncOrders:
    """httpx.AsyncClient, made on the test's loop."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, habits: Habits = Habits()) -> None:
        self.http, self.base_url, self.token = http, base_url, _Token(habits)

    async def _bearer(self) -> str:
        if self.token.usable():
            return str(self.token.value)
        asked_at = time.monotonic()
        answer = await self.http.post(self.base_url + "/oauth/token", data=self.token.form(), auth=(CLIENT_ID, SECRET))
        answer.raise_for_status()
        return self.token.keep(answer.json(), asked_at)

    async def orders(self) -> Any:
        retries = 0
        while True:
            answer = await self.http.get(self.base_url + "/v1/orders", headers={"authorization": f"Bearer {await self._bearer()}"})
            if answer.status_code < 400:
                return answer.json()
            if not self.token.again(answer.status_code, retries):
                raise ApiError(answer.status_code)
            retries += 1
            self.token.drop()


class AiohttpOrders:
    """aiohttp.ClientSession, made on the test's loop."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, habits: Habits = Habits()) -> None:
        self.http, self.base_url, self.token = http, base_url, _Token(habits)

    async def _bearer(self) -> str:
        if self.token.usable():
            return str(self.token.value)
        asked_at = time.monotonic()
        basic = {"authorization": aiohttp.encode_basic_auth(CLIENT_ID, SECRET)}
        async with self.http.post(self.base_url + "/oauth/token", data=self.token.form(), headers=basic) as answer:
            answer.raise_for_status()
            return self.token.keep(await answer.json(), asked_at)

    async def orders(self) -> Any:
        retries = 0
        while True:
            headers = {"authorization": f"Bearer {await self._bearer()}"}
            async with self.http.get(self.base_url + "/v1/orders", headers=headers) as answer:
                if answer.status < 400:
                    return await answer.json()
                status = answer.status
            if not self.token.again(status, retries):
                raise ApiError(status)
            retries += 1
            self.token.drop()
