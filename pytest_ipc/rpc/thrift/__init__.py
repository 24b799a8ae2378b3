"""The Thrift transport of the RPC stubs: `ThriftStub`, real thriftpy2 codecs on real sockets (extra `thrift`).

    def test_inventory(thrift_stub):
        thrift_stub.serve("inventory.thrift", protocol="compact", transport="framed")
        get = thrift_stub.expect("get_item", request={"sku": "A-1"})
        get.fail_first(2).then_respond({"sku": "A-1", "name": "widget"})
        ...  # a thriftpy2 client (make_client) against thrift_stub.host, thrift_stub.port
        assert [call.code for call in thrift_stub.calls(get)] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]

Pieces: `wire` (binary/compact protocols over buffered/framed transports, and which one a client
speaks), `idl` (the service from an IDL file or module, and the codecs), `server` (sockets and
threads) and `stub` (`ThriftStub`, the RPC core served over them). Faults: the `thrift` layer
(`pytest_ipc.faults.layers.thrift`). Fixtures: `pytest_ipc.fixtures.thrift`.
"""

from pytest_ipc._optional import require

require("thriftpy2", extra="thrift", feature="the Thrift stub")

# After the check, so a missing extra is named before thriftpy2 is imported.
from pytest_ipc.rpc.thrift.errors import ThriftUsageError  # noqa: E402
from pytest_ipc.rpc.thrift.stub import ThriftStub  # noqa: E402
from pytest_ipc.rpc.thrift.wire import PROTOCOLS, TRANSPORTS, Wire  # noqa: E402

__all__ = ["PROTOCOLS", "TRANSPORTS", "ThriftStub", "ThriftUsageError", "Wire"]
