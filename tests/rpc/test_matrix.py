"""The fault matrix over a gRPC target: one test, run per layer (the gRPC stub, a fault proxy in
front of it) and fault, with a real grpcio client that degrades to its fallback and recovers."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from pytest_ipc import faults
from pytest_ipc.faults.matrix import InjectedFault, matrix_cases
from pytest_ipc.rpc import GrpcStub
from tests.rpc.clients import FALLBACK, OrderClient, Policy

QUICK = Policy(deadline=0.3, attempts=2, backoff=0.02, threshold=100)


@pytest.mark.fault_matrix(
    faults=[faults.status(503), faults.grpc_status("UNAVAILABLE"), faults.fail_first(1), faults.hang(), faults.reset(), faults.outage()]
)
def test_order_client_degrades_and_recovers(
    grpc_stub: GrpcStub, ipc_fault: InjectedFault, ipc_target: str, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType
) -> None:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    client = OrderClient(ipc_target, QUICK, shop_pb2, shop_pb2_grpc)
    try:
        assert client.order() == ("paid" if ipc_fault.fault.times == 1 else FALLBACK)  # a retry outlives one failure
        ipc_fault.heal()
        deadline = time.monotonic() + 3
        while (answer := client.order()) != "paid" and time.monotonic() < deadline:  # a cut channel reconnects first
            time.sleep(0.02)
        assert answer == "paid"
    finally:
        client.close()


def test_matrix_cells_over_grpc_and_bad_layers() -> None:
    cells, left_out = matrix_cases([faults.status(503), faults.reset(), faults.outage()], stub="grpc_stub")
    assert [cell.id for cell in cells] == ["grpc-status-503", "proxy-reset", "proxy-outage"]
    assert [cell.id for cell in left_out] == ["grpc-reset", "grpc-outage", "proxy-status-503"]
    with pytest.raises(
        faults.FaultUsageError, match=r"layer\(s\) respx cannot reach the grpc_stub the test uses; choose from: grpc, proxy"
    ):
        matrix_cases([faults.hang()], ["respx", "grpc"], stub="grpc_stub")
