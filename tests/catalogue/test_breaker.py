"""Property: the circuit breaker opens after `threshold` failures, half-opens after its cool-down
with exactly one trial call (also when calls arrive together), closes once a trial succeeds, and
does not count a 404 (the dependency works; the thing asked for does not exist).

Defects: never opens; never half-opens; half-open lets every concurrent call through (a hand-written
breaker, and the circuitbreaker library); opened by 404s. The correct twins: a hand-written breaker
and pybreaker told that a 404 is not a failure."""

from __future__ import annotations

import threading
import time
from typing import Any

import circuitbreaker
import httpx
import pybreaker

from pytest_ipc import faults
from pytest_ipc.resilience import assert_breaker
from pytest_ipc.stub import HttpStub, Route
from tests.catalogue.variants import TLS, Variant, variants, verdict

THRESHOLD, COOL_DOWN = 3, 0.3
NEVER_OPENS = r"breaker did not open after 3 failing calls \(call 4\) \(phase 'open'\)"
NEVER_HALF_OPENS = (
    r"breaker never half-opens \(phase 'half-open .*\): 0\.30 s \(cool_down\) after it opened, none of 5 calls reached the stub"
)
LETS_ALL_THROUGH = (
    r"breaker lets every concurrent call through in half-open .*: [2-5] of 5 calls reached the stub at once; expected exactly one trial"
)
COUNTS_404 = r"breaker counts errors that must not count: after 3 call\(s\) answered with status-404, call 4 did not reach the stub"


class NotFound(Exception):
    """The dependency answered 404: it works, the price does not exist."""


class Unavailable(Exception):
    """A 5xx or a transport error: the dependency is failing."""


class BreakerOpen(Exception):
    """The breaker refused the call without trying."""


def fetch(client: httpx.Client, url: str) -> float:
    try:
        answer = client.get(url)
    except httpx.TransportError as error:
        raise Unavailable(str(error)) from error
    if answer.status_code == 404:
        raise NotFound(url)
    if answer.status_code >= 500:
        raise Unavailable(f"status {answer.status_code}")
    return float(answer.json()["eur"])


class Breaker:
    """A hand-written breaker; each flag switches one defect on."""

    def __init__(self, *, opens: bool = True, half_opens: bool = True, one_trial: bool = True, counts_404: bool = False) -> None:
        self.opens, self.half_opens, self.one_trial, self.counts_404 = opens, half_opens, one_trial, counts_404
        self.lock = threading.Lock()  # held for state changes only, never around the call
        self.failures, self.opened_at, self.trial = 0, None, False

    def call(self, work: Any) -> float:
        with self.lock:
            if self.opened_at is not None:
                cooled = self.half_opens and time.monotonic() - self.opened_at >= COOL_DOWN
                if not cooled or (self.one_trial and self.trial):
                    raise BreakerOpen("circuit open")
                self.trial = True
        try:
            value = work()
        except NotFound:
            self._record(failed=self.counts_404)
            raise
        except Exception:
            self._record(failed=True)
            raise
        self._record(failed=False)
        return float(value)

    def _record(self, *, failed: bool) -> None:
        with self.lock:
            self.trial = False
            if not failed:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            if self.opens and (self.opened_at is not None or self.failures >= THRESHOLD):
                self.opened_at = time.monotonic()


class PriceClient:
    """GET /price through a breaker: a hand-written one, pybreaker or circuitbreaker."""

    def __init__(self, base_url: str, breaker: str = "hand-written", **defects: bool) -> None:
        self.url = base_url + "/price"
        self.http = httpx.Client(timeout=1, verify=TLS)
        work = lambda: fetch(self.http, self.url)  # noqa: E731
        if breaker == "pybreaker":
            guard = pybreaker.CircuitBreaker(fail_max=THRESHOLD, reset_timeout=COOL_DOWN, exclude=[NotFound])
            self.guarded = lambda: guard.call(work)
        elif breaker == "circuitbreaker":
            guard = circuitbreaker.CircuitBreaker(failure_threshold=THRESHOLD, recovery_timeout=COOL_DOWN, expected_exception=Unavailable)
            self.guarded = guard.decorate(work)
        else:
            hand_written = Breaker(**defects)
            self.guarded = lambda: hand_written.call(work)

    def price(self) -> float | str:
        try:
            return float(self.guarded())
        except NotFound:
            return "no such price"
        except Exception:  # open, or failing: the caller gets a marker
            return "unavailable"


@variants(
    Variant("correct", "httpx", lambda url: PriceClient(url)),
    Variant("never-opens", "httpx", lambda url: PriceClient(url, opens=False), NEVER_OPENS),
    Variant("never-half-opens", "httpx", lambda url: PriceClient(url, half_opens=False), NEVER_HALF_OPENS),
    Variant("half-open-lets-all-through", "httpx", lambda url: PriceClient(url, one_trial=False), LETS_ALL_THROUGH),
    Variant("opened-by-404", "httpx", lambda url: PriceClient(url, counts_404=True), COUNTS_404),
    Variant("pybreaker-excluding-404", "httpx", lambda url: PriceClient(url, "pybreaker")),
    Variant("circuitbreaker-half-open", "httpx", lambda url: PriceClient(url, "circuitbreaker"), LETS_ALL_THROUGH),
)
def test_the_breaker_opens_half_opens_with_one_trial_and_closes(http_stub: HttpStub, price_route: Route, variant: Variant) -> None:
    client = variant.make(http_stub.url)
    try:
        with verdict(variant):
            assert_breaker(
                client.price, http_stub, threshold=THRESHOLD, cool_down=COOL_DOWN, not_counted=[faults.status(404)], fail_fast=0.1
            )
    finally:
        client.http.close()
