"""The fault matrix: which (layer, fault) cells a `fault_matrix` marker asks for, and a cell applied.

Only cells a layer can express are generated; the others are returned apart, so the plugin lists
them once for the session instead of a wall of skips. A fault that none of the layers asked for can
express is a usage error naming the layers that can: the user asked for exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_ipc.faults.active import ActiveFault
from pytest_ipc.faults.errors import FaultNotSupported, FaultUsageError
from pytest_ipc.faults.layers import LAYERS, layer_named, layers_for
from pytest_ipc.faults.vocabulary import FAULTS, Fault, TlsFault, make

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub
    from pytest_ipc.client import Proxy

# The stub fixture a matrix test calls through -> the layers that can reach it (the first is the default).
STUB_LAYERS: dict[str, tuple[str, ...]] = {
    "http_stub": ("respx", "stub", "proxy"),
    "https_stub": ("respx", "stub", "proxy"),  # the proxy in front of it terminates TLS: every TLS fault, plaintext toxics
    "grpc_stub": ("grpc", "proxy"),
    "thrift_stub": ("thrift", "proxy"),
    "ipc_dns": ("dns",),
}


@dataclass(frozen=True)
class FaultCase:
    """One cell of the matrix; `id` is the readable test id ("stub-latency-200ms", "proxy-outage")."""

    fault: Fault
    layer: str

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.fault.label}"


def matrix_cases(faults: object, layers: object = None, *, stub: str = "http_stub") -> tuple[list[FaultCase], list[FaultCase]]:
    """(cells to run, cells left out because the layer cannot express the fault) for `faults`
    (Fault values, or names of faults without required parameters) x `layers` (default: every layer
    that reaches `stub`, the stub fixture the test calls through: see `STUB_LAYERS`)."""
    if isinstance(faults, (str, Fault)) or not isinstance(faults, Sequence) or not faults:
        raise FaultUsageError(f"faults= must be a non-empty list of faults, e.g. [faults.hang(), faults.status(503)], got {faults!r}")
    reach = STUB_LAYERS[stub]
    if layers is None:
        layers = list(reach)
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
        raise FaultUsageError(f"layers= must be a non-empty list drawn from {', '.join(reach)}, got {layers!r}")
    chosen_layers = [layer_named(layer).name for layer in layers]
    unreachable = [layer for layer in chosen_layers if layer not in reach]
    if unreachable:
        raise FaultUsageError(f"layer(s) {', '.join(unreachable)} cannot reach the {stub} the test uses; choose from: {', '.join(reach)}")
    chosen = [_fault(item) for item in faults]
    for fault in chosen:
        able = [layer for layer in chosen_layers if _why_not(layer, fault, stub) is None]
        if not able and isinstance(fault, TlsFault) and stub == "http_stub":
            raise FaultUsageError(
                f"{fault.describe()} needs a TLS handshake: the test calls the http_stub (plain HTTP); use the https_stub "
                "fixture (the stub and a terminating proxy perform TLS faults), or layers=['respx'] to fake the error for httpx"
            )
        if not able:
            first = chosen_layers[0]
            why = _why_not(first, fault, stub) or ""
            raise FaultNotSupported(fault.describe(), " or ".join(chosen_layers), layers_for(fault), why)
    cells = [FaultCase(fault, layer) for layer in chosen_layers for fault in chosen]
    return (
        [cell for cell in cells if _why_not(cell.layer, cell.fault, stub) is None],
        [cell for cell in cells if _why_not(cell.layer, cell.fault, stub) is not None],
    )


def _why_not(layer: str, fault: Fault, stub: str) -> str | None:
    """Why `layer` cannot express `fault` in front of `stub`: the layer's own reason, or that no TLS is spoken there."""
    if isinstance(fault, TlsFault) and layer in ("stub", "proxy") and stub == "http_stub":
        return "the http_stub speaks plain HTTP: no handshake to fault (use https_stub)"
    return LAYERS[layer].why_not(fault)


def _fault(item: object) -> Fault:
    if isinstance(item, Fault):
        return item
    if isinstance(item, str):
        return make(item)
    raise FaultUsageError(f"expected a fault (e.g. faults.latency(0.2)) or one of the names {', '.join(FAULTS)}, got {item!r}")


@dataclass
class InjectedFault:
    """A cell applied for one test (the `ipc_fault` fixture): call `url` (a gRPC stub's: "host:port",
    also `target`; an HTTPS stub's: an https:// URL, the stub's or a TLS-terminating proxy's); `heal()`
    removes the fault."""

    case: FaultCase
    url: str
    stub: ObservedStub
    active: ActiveFault
    proxy: Proxy | None = None

    @property
    def fault(self) -> Fault:
        return self.case.fault

    @property
    def layer(self) -> str:
        return self.case.layer

    @property
    def target(self) -> str:
        """Where the client must call: the base URL (HTTP), or "host:port" (gRPC; the DNS server's for the dns layer)."""
        return self.url

    def heal(self) -> None:
        """Remove the fault: the dependency recovers for the rest of the test."""
        self.active.heal()

    def activations(self) -> int | None:
        """How often the fault fired so far (None: the layer cannot count here)."""
        return self.active.activations()

    def allow_unfired(self) -> None:
        """This test passes without the fault firing (its point is that the dependency is not reached)."""
        self.active.allow_unfired()
