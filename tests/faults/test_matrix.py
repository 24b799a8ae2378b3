"""The fault matrix with a real client: one test, run per layer and fault, with readable ids."""

from __future__ import annotations

import pytest

from pytest_ipc import faults
from pytest_ipc.faults.matrix import InjectedFault
from pytest_ipc.stub import HttpStub

from ..resilience.clients import FALLBACK, Policy, SyncPriceClient

PRICE = 3.5
QUICK = Policy(timeout=0.3, attempts=2, backoff=0.02, threshold=10)


@pytest.mark.fault_matrix(
    faults=[faults.outage(), faults.hang(), faults.reset(), faults.status(503), faults.fail_first(1)],
    layers=["respx", "stub", "proxy"],
)
def test_price_client_degrades_gracefully(http_stub: HttpStub, injected_fault: InjectedFault, target_url: str) -> None:
    http_stub.expect("GET", "/price").respond(json={"eur": PRICE})
    client = SyncPriceClient(target_url, QUICK)
    try:
        expected = PRICE if isinstance(injected_fault.fault, faults.FailFirst) else FALLBACK  # a retry outlives one failure
        assert client.price() == expected
        injected_fault.heal()
        assert client.price() == PRICE
    finally:
        client.close()

