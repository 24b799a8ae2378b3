"""The fault matrix with real clients: one test, run per layer and fault, with readable ids; httpx
sync and async clients alike (the async one driven on the test's own event loop)."""

from __future__ import annotations

import httpx
import pytest

from pytest_ipc import faults
from pytest_ipc.faults.matrix import InjectedFault
from pytest_ipc.stub import HttpStub
from tests.resilience.clients import FALLBACK, Policy, SyncPriceClient

PRICE = 3.5
QUICK = Policy(timeout=0.3, attempts=2, backoff=0.02, threshold=10)
MATRIX = pytest.mark.fault_matrix(
    faults=[faults.outage(), faults.hang(), faults.reset(), faults.status(503), faults.fail_first(1)],
    layers=["respx", "stub", "proxy"],
)


@MATRIX
def test_price_client_degrades_gracefully(http_stub: HttpStub, ipc_fault: InjectedFault, ipc_target_url: str) -> None:
    http_stub.expect("GET", "/price").respond(json={"eur": PRICE})
    client = SyncPriceClient(ipc_target_url, QUICK)
    try:
        expected = PRICE if ipc_fault.fault.times == 1 else FALLBACK  # a retry outlives one failure
        assert client.price() == expected
        ipc_fault.heal()
        assert client.price() == PRICE
    finally:
        client.close()


@MATRIX
@pytest.mark.anyio
async def test_async_client_under_the_matrix(http_stub: HttpStub, ipc_fault: InjectedFault, ipc_target_url: str) -> None:
    http_stub.expect("GET", "/price").respond(json={"eur": PRICE})

    async def price(client: httpx.AsyncClient) -> float:
        for attempt in range(2):
            try:
                return float((await client.get(ipc_target_url + "/price")).raise_for_status().json()["eur"])
            except httpx.HTTPError:
                if attempt == 1:
                    return FALLBACK
        raise AssertionError("not reached")

    async with httpx.AsyncClient(timeout=0.3) as client:
        assert await price(client) == (PRICE if ipc_fault.fault.times == 1 else FALLBACK)
        ipc_fault.heal()
        assert await price(client) == PRICE


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
