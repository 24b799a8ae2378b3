"""The async forms (`pytest_ipc.resilience.aio`) drive an httpx.AsyncClient made in the async test,
on the test's own loop: the same verdicts as the sync forms, for a correct and a broken client."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pytest_ipc import faults
from pytest_ipc.resilience import aio
from pytest_ipc.stub import HttpStub, Route
from tests.catalogue.variants import PRICE, Variant, variants, verdict

pytestmark = pytest.mark.anyio


@variants(
    Variant("timeout", "httpx-async", lambda url: 0.3),
    Variant("no-timeout", "httpx-async", lambda url: None, r"one request, held .* while the client waited: it sets no timeout"),
)
async def test_the_call_ends_within_its_budget(http_stub: HttpStub, price_route: Route, variant: Variant) -> None:
    async with httpx.AsyncClient(timeout=variant.make(http_stub.url)) as client:
        with faults.inject(faults.hang(), into=http_stub), verdict(variant):
            await aio.assert_timeout_honoured(lambda: client.get(http_stub.url_for("/price")), budget=0.5, stub=http_stub)


@variants(
    Variant("cap", "httpx-async", lambda url: 2),
    Variant("no-cap", "httpx-async", lambda url: 100, r"request cap exceeded: .*measured [3-6]"),
)
async def test_the_cap_on_the_tests_loop(http_stub: HttpStub, price_route: Route, variant: Variant) -> None:
    slots = asyncio.Semaphore(variant.make(http_stub.url))  # made on the test's loop: only aio can drive it

    async with httpx.AsyncClient(timeout=2) as client:

        async def price() -> float:
            if slots.locked():
                raise RuntimeError("too busy")
            async with slots:
                return float((await client.get(http_stub.url_for("/price"))).json()["eur"])

        with verdict(variant):
            outcomes = await aio.assert_request_cap(http_stub, 2, call=price, concurrency=6, fail_fast=0.1)
            assert [outcome.value for outcome in outcomes].count(PRICE) == 2


async def test_the_breaker_probe_on_the_tests_loop(http_stub: HttpStub, price_route: Route) -> None:
    state = {"failures": 0, "opened": 0.0, "trial": False}
    loop = asyncio.get_running_loop()

    async with httpx.AsyncClient(timeout=1) as client:

        async def price() -> str:
            if state["failures"] >= 2:
                if loop.time() - state["opened"] < 0.3 or state["trial"]:
                    return "open"
                state["trial"] = True
            try:
                answer = await client.get(http_stub.url_for("/price"))
            finally:
                state["trial"] = False
            if answer.status_code >= 500:
                state["failures"] += 1
                state["opened"] = loop.time()
                return "failed"
            state["failures"] = 0
            return "ok"

        transcript = await aio.assert_breaker(price, http_stub, threshold=2, cool_down=0.3, fail_fast=0.1)
    assert "half-open (5 calls at once, stub still failing): 1 request(s) at the stub from 5 calls" in "\n".join(transcript)
