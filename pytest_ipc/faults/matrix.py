"""The fault matrix: which (layer, fault) cases a `fault_matrix` marker asks for, and a case applied.

Unsupported combinations stay in the matrix as *skipped* cases whose reason names the layers that
can inject the fault: every test shows the same grid, and nothing silently disappears from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..client import Proxy
from ..stub import HttpStub
from .errors import FaultNotSupported
from .layers import LAYERS, check_layer, check_supported
from .vocabulary import FAULTS, Fault, make


@dataclass(frozen=True)
class FaultCase:
    """One cell of the matrix; `id` is the readable test id ("stub-latency-200ms", "proxy-outage")."""

    fault: Fault
    layer: str

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.fault.label}"

    def unsupported_reason(self) -> str | None:
        try:
            check_supported(self.fault, self.layer)
        except FaultNotSupported as error:
            return str(error)
        return None


def matrix_cases(faults: object, layers: object = LAYERS) -> list[FaultCase]:
    """The cases for `faults` (Fault values, or names of faults without parameters) x `layers`."""
    if isinstance(faults, (str, Fault)) or not isinstance(faults, Sequence) or not faults:
        raise ValueError(f"faults= must be a non-empty list of faults, e.g. [faults.hang(), faults.status(503)], got {faults!r}")
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
        raise ValueError(f"layers= must be a non-empty list drawn from {', '.join(LAYERS)}, got {layers!r}")
    chosen = [_fault(item) for item in faults]
    return [FaultCase(fault, check_layer(layer)) for layer in layers for fault in chosen]


def _fault(item: object) -> Fault:
    if isinstance(item, Fault):
        return item
    if isinstance(item, str):
        return make(item)
    raise ValueError(f"expected a fault (e.g. faults.latency(0.2)) or one of the names {', '.join(FAULTS)}, got {item!r}")


@dataclass
class InjectedFault:
    """A case applied for one test: call `url`; `heal()` removes the fault (the dependency recovers)."""

    case: FaultCase
    url: str
    stub: HttpStub
    proxy: Proxy | None = None
    _heal: Callable[[], None] = field(default=lambda: None, repr=False)

    @property
    def fault(self) -> Fault:
        return self.case.fault

    @property
    def layer(self) -> str:
        return self.case.layer

    def heal(self) -> None:
        self._heal()
