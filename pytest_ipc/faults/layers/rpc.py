"""How an RPC stub performs faults, whatever its transport: a delay, a hang, or another reply.

Owner of fault performing for `pytest_ipc.rpc` stubs. A fault attached to the stub
(`grpc_stub.inject`, `faults.inject(..., into=grpc_stub)`) or to one method (`route.inject`) is an
`RpcArmedFault`; per call it asks its `Trigger` whether it fires and, if so, shapes the call's `Plan`:
latency adds a delay before the answer, hang holds the call until the client gives up (or the test
ends), a status replaces the reply (`faults.status(503)` becomes the status gRPC maps that HTTP
status to, its `retry_after` the pushback; `faults.grpc_status(...)` names the code, and with
`after=n` lets `n` response messages out first). Connection faults (reset, outage, GOAWAY) are the
fault proxy's: a stub that answers cannot also refuse or cut the connection its server manages.

`RpcLayer` is the layer of one transport's stub; `pytest_ipc.faults.layers.grpc` is gRPC's.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_ipc.faults import vocabulary as v
from pytest_ipc.faults.errors import FaultNotSupported
from pytest_ipc.rpc.codes import code_for_http
from pytest_ipc.rpc.replies import RpcReply

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub
    from pytest_ipc.faults.layers.stub_tls import StubTlsInjection
    from pytest_ipc.rpc.stub import RpcStub


@dataclass
class Plan:
    """What a call gets: `reply` after `delay` seconds, or nothing until the client gives up (`hang`);
    `wake` (set by the stub for a call that waits) ends the wait early."""

    reply: RpcReply
    delay: float = 0.0
    hang: bool = False
    faults: list[str] = field(default_factory=list)
    cut: str | None = None  # "close" (FIN) or "reset" (RST) instead of an answer: transports that own their sockets (Thrift)
    wake: threading.Event | None = None


def _latency(fault: v.Latency, plan: Plan, rng: random.Random) -> None:
    plan.delay += fault.sample(rng)


def _hang(fault: v.Hang, plan: Plan, rng: random.Random) -> None:
    plan.hang = True


def _status(fault: v.Status, plan: Plan, rng: random.Random) -> None:
    plan.reply = RpcReply.failure(code_for_http(fault.code), fault.body, pushback=fault.retry_after)


def _grpc_status(fault: v.GrpcStatus, plan: Plan, rng: random.Random) -> None:
    plan.reply = plan.reply.cut(fault.after, RpcReply.failure(fault.code, fault.details, pushback=fault.pushback))


Shaper = Callable[[Any, Plan, random.Random], None]
SHAPERS: dict[type[v.Fault], Shaper] = {
    v.Latency: _latency,
    v.Hang: _hang,
    v.Status: _status,
    v.GrpcStatus: _grpc_status,
}


class RpcArmedFault:
    """A fault attached to an RPC stub or method: its trigger (firing rules, random stream, counts)."""

    def __init__(self, fault: v.Fault, shaper: Shaper | None = None) -> None:
        self.fault = fault
        self.trigger = v.Trigger(fault)
        self.shaper = shaper or SHAPERS[type(fault)]

    def apply(self, plan: Plan) -> None:
        """Shape `plan` when the fault fires for this call (the trigger counts both)."""
        if self.trigger.fires():
            self.shaper(self.fault, plan, self.trigger.rng)
            plan.faults.append(self.fault.label)


class RpcInjection:
    """A stub-wide fault in place; its trigger counts the calls it acted on."""

    deferred = False

    def __init__(self, armed: RpcArmedFault, target: RpcStub) -> None:
        self.stub = target
        self.armed = armed
        target.faults.append(armed)
        self._removed = False

    def activations(self) -> int:
        return self.armed.trigger.fired

    def never_fired(self) -> str:
        seen = self.armed.trigger.seen
        if seen:
            return f"the stub saw {seen} call(s) and the fault's firing rules let every one through"
        return f"the {self.stub.transport} stub saw no call during the block: did the client call its target (here {self.stub.target})?"

    def remove(self) -> None:
        if not self._removed:
            self._removed = True
            self.stub.faults[:] = [armed for armed in self.stub.faults if armed is not self.armed]


class RpcLayer:
    """The layer of one transport's RPC stub (`transport` is also the layer's name); `shapers` are the
    faults it performs (default `SHAPERS`; a transport that owns its sockets adds connection faults)."""

    def __init__(self, transport: str, hint: str, shapers: dict[type[v.Fault], Shaper] | None = None, *, tls: bool = False) -> None:
        self.name = transport
        self.target_hint = hint
        self.shapers = SHAPERS if shapers is None else shapers
        self.tls = tls  # the stub can serve TLS and perform the TLS faults (`stub_tls`) on its handshakes

    def handles(self, target: object) -> bool:
        from pytest_ipc.rpc.stub import RpcStub  # the core, not the transport: no grpc import here

        return isinstance(target, RpcStub) and target.transport == self.name

    def why_not(self, fault: v.Fault) -> str | None:
        if isinstance(fault, v.TlsFault) and self.tls:
            from pytest_ipc.faults.layers import stub_tls

            return stub_tls.why_not(fault)
        if type(fault) not in self.shapers:
            return (
                f"the {self.name} stub answers calls on a connection its server manages: it can answer late, never or with "
                "a status, not refuse or cut connections; inject those into a fault proxy in front of it"
            )
        return None

    def arm(self, fault: v.Fault | str) -> RpcArmedFault:
        """`fault` (or a fault's name) ready for this layer's stub; FaultNotSupported if it cannot."""
        from pytest_ipc.faults.layers import check_fault, layers_for  # the registry imports this module

        chosen = v.make(fault) if isinstance(fault, str) else check_fault(fault)
        why = self.why_not(chosen)
        if why is not None:
            raise FaultNotSupported(chosen.describe(), self.name, layers_for(chosen), why)
        return RpcArmedFault(chosen, self.shapers[type(chosen)])

    def inject(self, fault: v.Fault, target: RpcStub, upstream: ObservedStub | None) -> RpcInjection | StubTlsInjection:
        if isinstance(fault, v.TlsFault) and self.tls:
            from pytest_ipc.faults.layers.stub_tls import StubTlsInjection

            return StubTlsInjection(fault, target)  # type: ignore[arg-type]  # a TLS-capable RPC stub is a GrpcStub
        return RpcInjection(self.arm(fault), target)
