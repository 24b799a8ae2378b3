"""The grpc layer: faults performed by the gRPC stub (`grpc_stub`), as every RPC stub performs them.

Registered in `pytest_ipc.faults.layers.LAYERS`; the performing is `pytest_ipc.faults.layers.rpc`'s.
"""

from __future__ import annotations

from pytest_ipc.faults.layers.rpc import RpcLayer

LAYER = RpcLayer("grpc", "a GrpcStub (grpc_stub)")
