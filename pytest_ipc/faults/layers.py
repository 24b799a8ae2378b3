"""Compiling a fault onto a layer: which layers can express it, and `inject` to apply it for a block."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from ..client import Proxy
from ..stub import HttpStub
from . import proxy_layer, respx_layer, stub_layer
from .errors import FaultNotSupported
from .respx_layer import InProcess
from .vocabulary import FAULTS, Fault

LAYERS: Final = ("respx", "stub", "proxy")
Target = InProcess | HttpStub | Proxy

_TABLES: dict[str, Mapping[type[Fault], object]] = {
    respx_layer.LAYER: respx_layer.EFFECTS,
    stub_layer.LAYER: stub_layer.STUB_FAULTS,
    proxy_layer.LAYER: proxy_layer.TOXICS,
}
_WHY_NOT = {respx_layer.LAYER: respx_layer.WHY_NOT, stub_layer.LAYER: stub_layer.WHY_NOT, proxy_layer.LAYER: proxy_layer.WHY_NOT}


def layers_for(fault: Fault | type[Fault]) -> tuple[str, ...]:
    """The layers that can inject this fault (or kind of fault), in `LAYERS` order."""
    kind = fault if isinstance(fault, type) else type(fault)
    return tuple(layer for layer in LAYERS if kind in _TABLES[layer])


def support_table() -> dict[str, tuple[str, ...]]:
    """Fault name -> layers that can inject it (the table in the package docstring)."""
    return {name: layers_for(kind) for name, kind in FAULTS.items()}


def check_layer(layer: str) -> str:
    if layer not in LAYERS:
        raise ValueError(f"unknown fault layer {layer!r}; choose one of: {', '.join(LAYERS)}")
    return layer


def check_supported(fault: Fault, layer: str) -> None:
    """Raise `FaultNotSupported` (naming the layers that can) unless `layer` can inject `fault`."""
    if not isinstance(fault, Fault):
        raise TypeError(f"expected a fault from pytest_ipc.faults ({', '.join(FAULTS)}), got {fault!r}")
    if type(fault) not in _TABLES[check_layer(layer)]:
        raise FaultNotSupported(_describe(fault), layer, layers_for(fault), _WHY_NOT[layer])


def _describe(fault: Fault) -> str:
    status = getattr(fault, "status", None)
    return f"{fault.name} {status}" if status is not None else fault.name


def layer_of(target: object) -> str:
    if isinstance(target, InProcess):
        return respx_layer.LAYER
    if isinstance(target, HttpStub):
        return stub_layer.LAYER
    if isinstance(target, Proxy):
        return proxy_layer.LAYER
    raise TypeError(
        f"cannot inject a fault into {target!r}; pass an HttpStub (stub layer), a fault-proxy Proxy "
        "(proxy layer) or InProcess(base_url) (respx layer, httpx clients)"
    )


@contextmanager
def inject(fault: Fault, into: Target) -> Iterator[None]:
    """Apply `fault` to `into` inside the block; it is removed afterwards, also on an exception."""
    layer = layer_of(into)
    check_supported(fault, layer)
    if isinstance(into, InProcess):
        with respx_layer.inject(fault, into):
            yield
    elif isinstance(into, HttpStub):
        with stub_layer.inject(fault, into):
            yield
    else:
        with proxy_layer.inject(fault, into):
            yield
