"""The layers a fault can be injected at, as strategies behind one small protocol; registered here only.

A layer says, per fault *instance*, whether it can express it (`why_not` is None) or why not, and
injects it into a target, returning an `Injection` that counts the fault's activations: the
evidence that it fired. Adding a layer (gRPC, TLS, DNS...) is one module and one line in `LAYERS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pytest_ipc.faults.errors import FaultNotSupported, FaultUsageError
from pytest_ipc.faults.layers import dns, grpc, proxy, respx, stub, thrift
from pytest_ipc.faults.vocabulary import FAULTS, Fault

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub


class Injection(Protocol):
    """A fault in place at one layer."""

    @property
    def deferred(self) -> bool:
        """True when the proof can only be settled at the end of the test (the proxy's outage)."""

    def activations(self) -> int | None:
        """How often the fault fired so far; None when this layer cannot count here."""

    def never_fired(self) -> str:
        """The likely reason it did not fire, for the `FaultNeverFired` message."""

    def remove(self) -> None:
        """Take the fault away (idempotent); activations stay readable."""


class Layer(Protocol):
    """One way of injecting faults: in-process (respx), the HTTP stub, the TCP proxy..."""

    name: str
    target_hint: str  # what to pass as `into=`, for error messages

    def handles(self, target: object) -> bool:
        """Whether `target` is this layer's kind of target."""

    def why_not(self, fault: Fault) -> str | None:
        """None when this layer can express `fault` (with its parameters), else the reason."""

    def inject(self, fault: Fault, target: Any, upstream: ObservedStub | None) -> Injection:
        """Put `fault` in place on `target`; `upstream` is the stub behind it, if known."""


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (respx.LAYER, stub.LAYER, proxy.LAYER, grpc.LAYER, thrift.LAYER, dns.LAYER)}


def layer_named(name: object) -> Layer:
    if not isinstance(name, str) or name not in LAYERS:
        raise FaultUsageError(f"unknown fault layer {name!r}; choose one of: {', '.join(LAYERS)}")
    return LAYERS[name]


def layer_of(target: object) -> Layer:
    for layer in LAYERS.values():
        if layer.handles(target):
            return layer
    hints = "; ".join(f"{layer.target_hint} ({layer.name} layer)" for layer in LAYERS.values())
    raise FaultUsageError(f"cannot inject a fault into {target!r}; pass {hints}")


def check_fault(fault: object) -> Fault:
    if not isinstance(fault, Fault):
        raise FaultUsageError(f"expected a fault from pytest_ipc.faults ({', '.join(FAULTS)}), got {fault!r}")
    return fault


def layers_for(fault: Fault) -> tuple[str, ...]:
    """The layers that can inject this fault, in `LAYERS` order."""
    return tuple(name for name, layer in LAYERS.items() if layer.why_not(fault) is None)


def check_supported(fault: Fault, layer: str) -> None:
    """Raise `FaultNotSupported` (naming the layers that can) unless `layer` can inject `fault`."""
    why = layer_named(layer).why_not(check_fault(fault))
    if why is not None:
        raise FaultNotSupported(fault.describe(), layer, layers_for(fault), why)


def support_table() -> dict[str, tuple[str, ...]]:
    """Fault name -> layers that can inject it with default parameters (the package docstring's table)."""
    table: dict[str, tuple[str, ...]] = {}
    for name, kind in FAULTS.items():
        required = {"latency": {"delay": 0.1}, "bandwidth": {"rate": 1000}, "truncated": {"size": 10}, "dribble": {"duration": 0.1}}
        table[name] = layers_for(kind(**required.get(name, {})))  # type: ignore[arg-type]  # parameters by name, per kind
    return table
