"""The grpc layer: faults performed by the gRPC stub (`grpc_stub`), as every RPC stub performs them;
the TLS faults on its TLS listener (`grpc_tls_stub`), as the HTTPS stub performs them (`stub_tls`).

Registered in `pytest_ipc.faults.layers.LAYERS`; the performing is `pytest_ipc.faults.layers.rpc`'s.
"""

from __future__ import annotations

from pytest_ipc.faults.layers.rpc import RpcLayer

LAYER = RpcLayer("grpc", "a GrpcStub (grpc_stub; grpc_tls_stub for the TLS faults)", tls=True)
