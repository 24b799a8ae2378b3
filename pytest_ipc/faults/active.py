"""A fault in place, and the proof that it fired: `inject(...)` for a block, `start(...)` for a test.

A fault that never fired proves nothing: the client may have called another URL, used a library
the layer cannot reach, or never called at all. So `inject` fails its block with `FaultNeverFired`
(naming the fault, the layer and the likely cause) unless the fault fired at least once, or the
test says with `must_fire=False` that the dependency is never reached. It never replaces an
exception raised inside the block.

Some proofs can only be settled when the test ends (a proxy outage is proven by a connection before
or after it). Inside a pytest test the plugin collects those (`pytest_ipc._proofs`) and settles them after
the call phase; elsewhere they are settled when the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pytest_ipc import _proofs
from pytest_ipc.faults.errors import FaultNeverFired
from pytest_ipc.faults.layers import Injection, Layer, check_fault, layer_of
from pytest_ipc.faults.vocabulary import Fault
from pytest_ipc.report import recorder  # each fault's span goes on the running test's timeline

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub

OPT_OUT = "if the point of the test is that the dependency is never reached, say so with must_fire=False"


class ActiveFault:
    """One fault in place at one layer; `heal()` removes it, `activations()` counts its firings."""

    def __init__(self, fault: Fault, layer: Layer, injection: Injection) -> None:
        self.fault = fault
        self.layer = layer
        self.injection = injection
        self.must_fire = True
        self.noted = recorder.fault_started(self, f"{fault.describe()} at the {layer.name} layer")

    def heal(self) -> None:
        """Remove the fault (idempotent): the dependency recovers."""
        self.injection.remove()
        recorder.fault_healed(self, self.noted)

    def activations(self) -> int | None:
        """How often the fault fired so far; None when the layer cannot count (a real Toxiproxy)."""
        return self.injection.activations()

    def allow_unfired(self) -> None:
        """This test passes without the fault firing (its point is that the dependency is not reached)."""
        self.must_fire = False

    def unproven(self) -> str | None:
        """Why the fault is not proven to have fired, or None (it fired, could not be counted, or need not)."""
        if not self.must_fire:
            return None
        count = self.activations()
        if count is None or count > 0:
            return None
        cause = self.injection.never_fired()
        opt_out = "" if "must_fire=False" in cause else f" ({OPT_OUT}.)"
        return (
            f"{self.fault.describe()} was injected at the {self.layer.name} layer and never fired, so the test "
            f"exercised nothing of it. Likely cause: {cause}.{opt_out}"
        )


def settle(actives: list[ActiveFault]) -> None:
    """Raise `FaultNeverFired` listing every fault of `actives` not proven to have fired."""
    problems = [problem for active in actives if (problem := active.unproven()) is not None]
    if problems:
        raise FaultNeverFired("\n".join(problems))


def start(fault: Fault, into: object, *, upstream: ObservedStub | None = None) -> ActiveFault:
    """Put `fault` in place on `into` until `heal()`; `upstream` is the stub behind the target (respx:
    the server at the base URL, proxy: its upstream), so a fault that never fired can say whether
    the client went around it. Raises `FaultNotSupported` when the layer cannot express the fault."""
    from pytest_ipc.faults.layers import check_supported

    layer = layer_of(into)
    check_supported(check_fault(fault), layer.name)
    return ActiveFault(fault, layer, layer.inject(fault, into, upstream))


@contextmanager
def inject(fault: Fault, into: object, *, must_fire: bool = True, upstream: ObservedStub | None = None) -> Iterator[ActiveFault]:
    """Apply `fault` to `into` inside the block and remove it afterwards, also on an exception.

    `into` chooses the layer: an `HttpStub` or one of its routes (stub), a `GrpcStub` (grpc), a `ThriftStub` (thrift),
    a fault-proxy `Proxy` (proxy) or
    `InProcess(base_url)` (respx, httpx clients only). At the end of a block that raised nothing,
    a fault that never fired fails with `FaultNeverFired`, unless `must_fire=False`.
    """
    active = start(fault, into, upstream=upstream)
    active.must_fire = must_fire
    try:
        yield active
    except BaseException as error:
        try:
            active.heal()
        except Exception as cleanup:  # the block's own error is what the test must see
            error.add_note(f"pytest-ipc could not remove {fault.describe()} afterwards: {cleanup!r}")
        raise
    unproven = active.unproven()
    active.heal()
    if unproven is None:
        return
    if active.injection.deferred and _proofs.pending is not None:
        _proofs.pending.append(active)  # settled after the test's call phase, when every connection is in
        return
    raise FaultNeverFired(unproven)
