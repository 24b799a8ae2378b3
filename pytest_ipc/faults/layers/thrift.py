"""The thrift layer: faults performed by the Thrift stub (`thrift_stub`), the RPC stubs' way plus its own.

Registered in `pytest_ipc.faults.layers.LAYERS`; performing is `pytest_ipc.faults.layers.rpc`'s, whose
shapers decide each call's `Plan`. The Thrift stub's server owns its sockets, so besides latency, hang
and a failing status it can cut the connection instead of answering (`reset()`: RST,
`empty_response()`: FIN, no byte of answer), and it sends Thrift's own errors (`thrift_error(...)`:
a `TApplicationException`, or an exception the IDL declares). `status(503)` becomes the status gRPC
maps it to, which the Thrift stub sends as a `TApplicationException` (INTERNAL_ERROR).
"""

from __future__ import annotations

import random

from pytest_ipc.faults import vocabulary as v
from pytest_ipc.faults.layers.rpc import SHAPERS, Plan, RpcLayer, Shaper
from pytest_ipc.rpc.codes import THRIFT_ERROR_KEY, THRIFT_ERRORS
from pytest_ipc.rpc.replies import RpcReply


def _reset(fault: v.Reset, plan: Plan, rng: random.Random) -> None:
    plan.cut = "reset"


def _empty(fault: v.EmptyResponse, plan: Plan, rng: random.Random) -> None:
    plan.cut = "close"


def _thrift_error(fault: v.ThriftError, plan: Plan, rng: random.Random) -> None:
    if fault.exception is not None:  # an IDL exception travels as the method's result; a server application error
        plan.reply = RpcReply(messages=(fault.exception,), code="UNKNOWN", details=fault.message or repr(fault.exception))
    else:
        plan.reply = RpcReply.failure(THRIFT_ERRORS[fault.kind], fault.message, trailing_metadata={THRIFT_ERROR_KEY: fault.kind})


SHAPED: dict[type[v.Fault], Shaper] = {
    v.Latency: SHAPERS[v.Latency],
    v.Hang: SHAPERS[v.Hang],
    v.Status: SHAPERS[v.Status],
    v.Reset: _reset,
    v.EmptyResponse: _empty,
    v.ThriftError: _thrift_error,
}


class ThriftLayer(RpcLayer):
    """The Thrift stub's layer: the RPC faults but gRPC's status, plus connection cuts and Thrift errors."""

    def why_not(self, fault: v.Fault) -> str | None:
        if type(fault) not in self.shapers:
            return (
                "the Thrift stub is a listening server answering Thrift calls: it can answer late, never, with an error, "
                "or cut the connection, not refuse connections, time out a connect, or garble HTTP (use a fault proxy)"
            )
        return None


LAYER = ThriftLayer("thrift", "a ThriftStub (thrift_stub)", SHAPED)
