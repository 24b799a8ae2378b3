"""RPC stubs: the transport-independent core (routes per method, replies, journal, faults, test lifecycle).

    def test_orders(grpc_stub):
        grpc_stub.serve(orders_pb2_grpc)               # or serve("orders.proto"), or a ProtoSchema
        get = grpc_stub.expect("Orders/Get", metadata={"x-tenant": "acme"})
        get.fail_first(2, code="UNAVAILABLE").then_respond({"id": "o-1", "qty": 2})
        ...  # a real grpcio client against grpc_stub.target
        assert [call.code for call in grpc_stub.calls(get)] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]

Pieces: `codes` (status names), `replies` (`RpcReply`), `methods` (`MethodRoute`), `journal`
(`RpcCall`, `RpcJournal`), `stub` (`RpcStub`, what a transport subclasses; see docs/internals/rpc-core.md in the
repository) and two transports: `grpc_server` (`GrpcStub`; imports grpc) and `thrift` (`ThriftStub`;
imports thriftpy2). Names load on first use. Faults are the vocabulary of `pytest_ipc.faults`; how an RPC stub performs them lives in
`pytest_ipc.faults.layers.rpc`. Fixtures: `pytest_ipc.fixtures.grpc`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_ipc.rpc.codes import CODES, PUSHBACK_KEY
    from pytest_ipc.rpc.errors import RpcUsageError
    from pytest_ipc.rpc.grpc_server import GrpcStub
    from pytest_ipc.rpc.journal import RpcCall, RpcJournal
    from pytest_ipc.rpc.methods import MethodRoute
    from pytest_ipc.rpc.replies import RpcReply
    from pytest_ipc.rpc.stub import RpcStub
    from pytest_ipc.rpc.thrift import ThriftStub

__all__ = [
    "CODES", "PUSHBACK_KEY", "GrpcStub", "MethodRoute", "RpcCall", "RpcJournal", "RpcReply", "RpcStub", "RpcUsageError", "ThriftStub",
]  # fmt: skip

# Resolved on first use: the fault layers import `codes` and `replies` from here while `stub` imports
# the layers, and `grpc_server` imports grpc.
_HOMES = {
    "CODES": "codes", "PUSHBACK_KEY": "codes", "RpcUsageError": "errors", "GrpcStub": "grpc_server", "RpcCall": "journal",
    "RpcJournal": "journal", "MethodRoute": "methods", "RpcReply": "replies", "RpcStub": "stub", "ThriftStub": "thrift",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'pytest_ipc.rpc' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pytest_ipc.rpc.{_HOMES[name]}"), name)
