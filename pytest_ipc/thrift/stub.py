"""`ThriftStub`: the RPC stub core (`pytest_ipc.rpc.stub.RpcStub`) served over Thrift.

Routes, reply sequences, scenarios, faults, the journal and the test lifecycle are the core's; this
module maps them onto Thrift. A method is named as the IDL names it ("get_item", or
"Inventory.get_item"); the journal calls it "/Inventory/get_item" and records the call's arguments,
by IDL name, as its request (a dict; `request=` matches it partially, structs as dicts of their
fields). What is sent back for a reply:

- OK with a message: the method's result (a dict for a struct becomes that struct, nested ones too);
  a message that is an exception the IDL declares for the method is sent as that exception (the
  journal says UNKNOWN, gRPC's status for an application error), a `TApplicationException` as itself;
- a failing status: a `TApplicationException`, INTERNAL_ERROR unless the status names another
  (UNIMPLEMENTED is UNKNOWN_METHOD; `faults.thrift_error(kind)` picks any);
- a oneway method gets nothing back, whatever the reply.

Thrift clients send no deadline and no metadata: calls have neither. A call that waits (latency,
hang) ends early when the client closes its connection (it gave up) or the test ends.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from types import ModuleType, TracebackType

from thriftpy2.thrift import TApplicationException

from pytest_ipc._net import LOOPBACK
from pytest_ipc.faults.layers import thrift as thrift_layer
from pytest_ipc.faults.layers.rpc import Plan
from pytest_ipc.rpc.codes import THRIFT_ERROR_FOR, THRIFT_ERROR_KEY, THRIFT_ERRORS
from pytest_ipc.rpc.journal import RpcCall
from pytest_ipc.rpc.stub import RpcStub
from pytest_ipc.thrift.errors import ThriftUsageError
from pytest_ipc.thrift.idl import APPLICATION_ERRORS, Service, ThriftCall, application_error, encode_application_error, plain
from pytest_ipc.thrift.server import Connection, ThriftServer
from pytest_ipc.thrift.wire import Wire, check_wire


class ThriftStub(RpcStub):
    """A Thrift stub for one IDL service; use as a context manager or `start()`/`stop()`.

    `idl` is a .thrift file or a module `thriftpy2.load` made; `service` names one when the IDL has
    several. `protocol` ("binary", "compact") and `transport` ("buffered", "framed") are what clients
    must speak; `serve(...)` changes them for the current test. A client on another wire is closed
    and named in `problems_report()`.
    """

    transport = "thrift"
    layer = thrift_layer.LAYER

    def __init__(
        self,
        idl: str | Path | ModuleType,
        service: str | None = None,
        *,
        protocol: str = "binary",
        transport: str = "buffered",
        host: str = LOOPBACK,
    ) -> None:
        self.service = Service(idl, service)
        self.default_wire = check_wire(protocol, transport)
        self._wire = self.default_wire
        self.wire_problems: list[str] = []  # clients on another wire, undecodable messages
        super().__init__()
        self.server = ThriftServer(self.service, self, host)

    def _clear(self) -> None:
        super()._clear()
        self.wire_problems.clear()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ThriftStub:
        self.server.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection (hung calls end); every thread is joined."""
        self.reset()
        self.server.stop()

    def __enter__(self) -> ThriftStub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def end_test(self) -> None:
        """End the current test: its waiting calls end, its connections close, its port stops listening;
        the next test gets a new port and the stub's own wire again."""
        super().end_test()
        self.server.next_listener()
        self._wire = self.default_wire

    # -- where and how clients call --------------------------------------------------------------
    @property
    def host(self) -> str:
        return self.server.address[0]

    @property
    def port(self) -> int:
        """The current test's port (a new one for each test under the `thrift_stub` fixture)."""
        return self.server.address[1]

    @property
    def wire(self) -> Wire:
        """The protocol and transport clients must speak now."""
        return self._wire

    @property
    def module(self) -> ModuleType:
        """The thriftpy2 module of the IDL (its structs and exceptions: `thrift_stub.module.Item(...)`)."""
        return self.service.module

    def serve(self, *, protocol: str | None = None, transport: str | None = None) -> None:
        """Speak this protocol ("binary", "compact") and transport ("buffered", "framed") to connections
        opened from now on, until the test ends."""
        self._wire = check_wire(protocol or self._wire.protocol, transport or self._wire.transport)

    def resolve(self, method: str) -> str:
        """"get_item", "Inventory.get_item" or "/Inventory/get_item" -> "/Inventory/get_item"."""
        name = str(method).strip("/").replace(".", "/").replace(":", "/")
        service, _, short = name.rpartition("/")
        if service and service != self.service.name:
            raise ThriftUsageError(f"this stub serves {self.service.name}, not {service} ({method!r})")
        return f"/{self.service.name}/{self.service.check_method(short)}"

    def as_dict(self, message: object) -> object:
        return plain(message)

    # -- serving (the server's connection threads call these) ------------------------------------
    def problem(self, message: str) -> None:
        self.wire_problems.append(message)

    def dispatch(self, decoded: ThriftCall, connection: Connection) -> bool:
        """The core's four steps for one call; False when the connection is done."""
        call = self.begin_call(f"/{self.service.name}/{decoded.method}", {}, None, [dict(decoded.args)])
        plan = self.plan(call)
        if plan.delay > 0 or plan.hang:
            with connection.closed_by_client(lambda: self.release(call)):
                answered = self.wait(call, plan)
            if not answered:
                self.cancelled(call)
                return False
        if plan.cut is not None:
            connection.cut("reset" if plan.cut == "reset" else "close")
            self.finish_call(call, "UNAVAILABLE", f"the stub {'reset' if plan.cut == 'reset' else 'closed'} the connection")
            return False
        data, code, details = self.answer(decoded, call, plan)
        if not decoded.oneway:
            connection.send(data)
        self.finish_call(call, code, details, responses=int(code == "OK" and not decoded.oneway))
        return True

    def answer(self, decoded: ThriftCall, call: RpcCall, plan: Plan) -> tuple[bytes, str, str]:
        """(bytes, status, details) answering `decoded` with `plan.reply`; a reply the IDL cannot carry
        is an error for the test's report, and the client gets INTERNAL_ERROR."""
        reply, wire = plan.reply, self._wire
        value = reply.messages[0] if reply.messages else None
        try:
            if isinstance(value, TApplicationException):
                kind = next((name for name, number in APPLICATION_ERRORS.items() if number == value.type), "UNKNOWN")
                return encode_application_error(wire, decoded, value), THRIFT_ERRORS[kind], str(value)
            if isinstance(value, BaseException):
                return self.service.encode_declared(wire, decoded, value), "UNKNOWN", reply.details or repr(value)
            if not reply.ok:
                kind = dict(reply.trailing_metadata).get(THRIFT_ERROR_KEY) or THRIFT_ERROR_FOR.get(reply.code, "INTERNAL_ERROR")
                message = reply.details or reply.code
                return encode_application_error(wire, decoded, application_error(kind, message)), reply.code, message
            if not decoded.known:
                return encode_application_error(wire, decoded, application_error("UNKNOWN_METHOD", "")), "UNIMPLEMENTED", ""
            result = self.service.as_result(decoded.method, value)
            return self.service.encode_result(wire, decoded, result), "OK", ""
        except Exception as error:  # the configured reply does not fit the IDL: INTERNAL_ERROR now, the test fails at teardown
            call.error = error.args[0] if isinstance(error, ThriftUsageError) else traceback.format_exc()
            message = f"the stub's reply for {decoded.method} does not fit the IDL; see the test's teardown report"
            return encode_application_error(wire, decoded, application_error("INTERNAL_ERROR", message)), "INTERNAL", message

    # -- looking at what happened ----------------------------------------------------------------
    def problems_report(self) -> str | None:
        """Unmatched calls (unless allowed), replies that failed, and clients on the wrong wire; None if none."""
        lines = [line for line in [super().problems_report()] if line]
        lines += [f"thrift_stub: {problem}" for problem in list(self.wire_problems)]
        return "\n".join(lines) or None
