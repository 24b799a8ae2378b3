"""`ThriftStub`: the RPC stub core (`pytest_ipc.rpc.stub.RpcStub`) served over Thrift, by thriftpy2's codecs.

Owner of everything Thrift-specific about the stub. Routes, reply sequences, scenarios, faults, the
journal and the test lifecycle are the core's; this module maps them onto Thrift. `serve(idl)`
names the IDL service for the rest of the test (a .thrift path or a module `thriftpy2.load` made),
with the protocol and transport clients must speak. A method is named as the IDL names it
("get_item", or "Inventory.get_item"); the journal calls it "/Inventory/get_item" and records its
arguments, by IDL name, as the request (a dict: `request=` matches it partially, structs as dicts
of their fields). What a reply sends:

- OK with a message: the method's result (a dict for a struct becomes that struct, nested ones too);
  a message that is an exception the IDL declares for the method is sent as that exception (the
  journal says UNKNOWN, gRPC's status for an application's error), a `TApplicationException` as itself;
- a failing status: a `TApplicationException`, INTERNAL_ERROR unless the status names another
  (UNIMPLEMENTED is UNKNOWN_METHOD; `faults.thrift_error(kind)` picks any);
- nothing for a oneway method, whatever the reply.

Thrift clients send no deadline and no metadata: calls have neither. A call that waits (latency,
hang) ends early when the client closes its connection (it gave up) or the test ends.
"""

from __future__ import annotations

import traceback
from types import ModuleType, TracebackType

from thriftpy2.thrift import TApplicationException

from pytest_ipc._net import LOOPBACK
from pytest_ipc.faults.layers import thrift as thrift_layer
from pytest_ipc.faults.layers.rpc import Plan
from pytest_ipc.rpc.codes import THRIFT_ERROR_FOR, THRIFT_ERROR_KEY, THRIFT_ERRORS
from pytest_ipc.rpc.journal import RpcCall
from pytest_ipc.rpc.stub import RpcStub
from pytest_ipc.rpc.thrift.errors import ThriftUsageError
from pytest_ipc.rpc.thrift.idl import APPLICATION_ERRORS, Service, ThriftCall, application_error, encode_application_error, plain
from pytest_ipc.rpc.thrift.server import Connection, Cut, ThriftServer
from pytest_ipc.rpc.thrift.wire import Wire, check_wire
from pytest_ipc.thrift_idl import ThriftIdl


class ThriftStub(RpcStub):
    """A Thrift stub on real sockets: `serve()` an IDL service, `expect()` routes, read `calls()`.

    Use as a context manager or `start()`/`stop()`; the `thrift_stub` fixture hands one to each test,
    clean, on a port of its own. `protocol` ("binary", "compact") and `transport` ("buffered",
    "framed") are what clients must speak unless `serve()` says otherwise for a test; a client on
    another wire is closed and named in `problems_report()`.
    """

    transport = "thrift"
    layer = thrift_layer.LAYER

    def __init__(self, host: str = LOOPBACK, *, protocol: str = "binary", transport: str = "buffered") -> None:
        self.default_wire = check_wire(protocol, transport)
        self.wire_problems: list[str] = []  # clients on another wire, undecodable messages
        super().__init__()
        self.server = ThriftServer(self, host)

    def _clear(self) -> None:
        super()._clear()
        self._service: Service | None = None
        self._wire = self.default_wire
        self.wire_problems.clear()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ThriftStub:
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving: calls still held end, the listener and connections close, every thread is joined."""
        self.reset()
        self.server.stop()

    def __enter__(self) -> ThriftStub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def end_test(self) -> None:
        """End the current test: its held calls end, its connections close and its port stops listening
        (the next test gets a new one)."""
        super().end_test()
        self.server.next_listener()

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
    def service(self) -> Service | None:
        """The IDL service served in this test, if any."""
        return self._service

    @property
    def module(self) -> ModuleType:
        """The thriftpy2 module of the served IDL (its structs and exceptions: `thrift_stub.module.Item(...)`)."""
        return self._served().module

    def serve(
        self, idl: ThriftIdl | None = None, service: str | None = None, *, protocol: str | None = None, transport: str | None = None
    ) -> ThriftStub:
        """Serve `idl`'s service (`service` names one when it declares several) for the rest of the test,
        to clients speaking `protocol` ("binary", "compact") over `transport` ("buffered", "framed");
        without `idl`, only change the wire. Connections already open keep the wire they started with."""
        if idl is None and protocol is None and transport is None:
            raise ThriftUsageError("serve() needs an IDL (a .thrift path or a module thriftpy2.load made), a protocol or a transport")
        wire = check_wire(protocol or self._wire.protocol, transport or self._wire.transport)
        if idl is not None:
            self._service = Service(idl, service)
        self._wire = wire
        return self

    def _served(self) -> Service:
        if self._service is None:
            raise ThriftUsageError("the Thrift stub serves no IDL yet: thrift_stub.serve('inventory.thrift') first")
        return self._service

    def resolve(self, method: str) -> str:
        """"get_item", "Inventory.get_item", "Inventory/get_item" or "/Inventory/get_item" -> "/Inventory/get_item"."""
        served = self._served()
        name = str(method).strip().strip("/").replace(".", "/")
        owner, _, short = name.rpartition("/")
        if owner and owner != served.name:
            methods = ", ".join(served.methods)
            raise ThriftUsageError(f"method {method!r}: this stub serves {served.name}, not {owner}; its methods: {methods}")
        return f"/{served.name}/{served.check_method(short)}"

    def as_dict(self, message: object) -> object:
        return plain(message)

    # -- serving (the server's connection threads call these) ------------------------------------
    def problem(self, message: str) -> None:
        self.wire_problems.append(message)

    def dispatch(self, decoded: ThriftCall, connection: Connection) -> bool:
        """The core's steps for one call, on its connection; False when the connection is done."""
        owner = self._service.name if self._service is not None else "?"
        call = self.begin_call(f"/{owner}/{decoded.method}", {}, None, [dict(decoded.args)])
        plan = self.plan(call)
        if not decoded.known:
            served = f"; it serves {', '.join(self._service.methods)}" if self._service is not None else "; it serves no IDL yet"
            call.closest_misses = [f"the stub's IDL has no method {decoded.method}{served}"]
        if plan.wake is not None:
            with connection.closed_by_client(lambda: self.release(call)):
                answered = self.wait(call, plan)
            if not answered:
                self.cancelled(call)
                return False
        if plan.cut is not None:
            how: Cut = "reset" if plan.cut == "reset" else "close"
            self.finish_call(call, "UNAVAILABLE", f"the stub {'reset' if how == 'reset' else 'closed'} the connection")
            connection.cut(how)
            return False
        data, code, details = self.answer(decoded, call, plan)
        # journaled before it is sent: a client that has its answer finds the call finished
        self.finish_call(call, code, details, responses=int(code == "OK" and not decoded.oneway))
        if not decoded.oneway:
            connection.send(data)
        return True

    def answer(self, decoded: ThriftCall, call: RpcCall, plan: Plan) -> tuple[bytes, str, str]:
        """(bytes, status, details) answering `decoded` with `plan.reply`; a reply the IDL cannot carry is
        an error for the test's report, and the client gets INTERNAL_ERROR."""
        reply, wire = plan.reply, self._wire
        value = reply.messages[0] if reply.messages else None
        try:
            if isinstance(value, TApplicationException):
                kind = next((name for name, number in APPLICATION_ERRORS.items() if number == value.type), "UNKNOWN")
                return encode_application_error(wire, decoded, value), THRIFT_ERRORS[kind], str(value)
            if (not reply.ok and not isinstance(value, BaseException)) or not decoded.known:
                kind = dict(reply.trailing_metadata).get(THRIFT_ERROR_KEY) or THRIFT_ERROR_FOR.get(reply.code, "INTERNAL_ERROR")
                message = reply.details or reply.code
                return encode_application_error(wire, decoded, application_error(kind, message)), reply.code, message
            service = self._served()
            if isinstance(value, BaseException):
                return service.encode_declared(wire, decoded, value), "UNKNOWN", reply.details or repr(value)
            return service.encode_result(wire, decoded, service.as_result(decoded.method, value)), "OK", ""
        except Exception as error:  # the configured reply does not fit the IDL: INTERNAL_ERROR now, the test fails at teardown
            route = call.route.name if call.route else call.method
            why = str(error) if isinstance(error, ThriftUsageError) else traceback.format_exc()
            call.error = f"the reply of {route} does not fit the IDL: {why}"
            message = f"the stub's reply for {decoded.method} does not fit the IDL; see the test's teardown report"
            return encode_application_error(wire, decoded, application_error("INTERNAL_ERROR", message)), "INTERNAL", message

    # -- looking at what happened ----------------------------------------------------------------
    def problems_report(self) -> str | None:
        """Unmatched calls (unless allowed), replies that failed, clients on the wrong wire; None if none."""
        lines = [line for line in [super().problems_report()] if line]
        lines += [f"thrift_stub: {problem}" for problem in list(self.wire_problems)]
        return "\n".join(lines) or None
