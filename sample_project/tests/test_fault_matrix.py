"""The fault matrix: the order page under every HTTP and network failure mode, at both layers.

`@pytest.mark.fault_matrix` runs the test once per fault and layer (the HTTP stub, or the fault
proxy in front of it). The shop has seen the order before, so for every fault it must either answer
fresh (the fault is survivable: latency, a few 503s) or serve its cached copy within the deadline:
never hang, never raise. Each cell lands in the resilience report with its measured latency.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_ipc import faults
from pytest_ipc.faults.matrix import InjectedFault
from pytest_ipc.report import Outcome, ReportHandle
from pytest_ipc.stub import HttpStub

from .conftest import ClientFactory
from .orders_stub import ORDER, ORDER_ID, serve_order

DEADLINE_S = 0.8
SURVIVABLE = {"latency", "bandwidth"}  # answered fresh, if late (so is a fail_first); everything else: fallback
HTTP_FAULTS = [faults.latency(0.1), faults.fail_first(2), faults.hang(), faults.reset(), faults.status(503),
               faults.malformed_response(), faults.empty_response(), faults.close_before_headers()]
NETWORK_FAULTS = [faults.latency(0.1), faults.hang(), faults.reset(), faults.outage(), faults.bandwidth(1000)]


def order_page_survives(http_stub: HttpStub, ipc_fault: InjectedFault, make_client: ClientFactory,
                        ipc_report: ReportHandle) -> None:
    serve_order(http_stub)
    client = make_client(ipc_fault.url, timeout_s=0.2, attempts=3, backoff_s=0.01, deadline_s=DEADLINE_S)
    client.cache.put(ORDER_ID, ORDER)  # the shop showed this order a minute ago
    fault = ipc_fault.fault
    with ipc_report.measure(f"orders-api ({ipc_fault.layer})", fault.label) as attempt:
        order = client.get_order(ORDER_ID)
        attempt.outcome = Outcome.SERVED_FALLBACK if order.stale else Outcome.RECOVERED
    expected = ORDER if fault.name in SURVIVABLE or fault.times is not None else replace(ORDER, stale=True)
    assert order == expected
    assert attempt.latency < DEADLINE_S + 0.5
    ipc_fault.heal()  # and once the API is back, the page is fresh again (also the proof an outage hit this client)
    assert client.get_order(ORDER_ID) == ORDER


@pytest.mark.fault_matrix(faults=HTTP_FAULTS, layers=["stub"])
def test_order_page_under_http_faults(http_stub: HttpStub, ipc_fault: InjectedFault,
                                      make_client: ClientFactory, ipc_report: ReportHandle) -> None:
    order_page_survives(http_stub, ipc_fault, make_client, ipc_report)


@pytest.mark.fault_matrix(faults=NETWORK_FAULTS, layers=["proxy"])
def test_order_page_under_network_faults(http_stub: HttpStub, ipc_fault: InjectedFault,
                                         make_client: ClientFactory, ipc_report: ReportHandle) -> None:
    order_page_survives(http_stub, ipc_fault, make_client, ipc_report)
