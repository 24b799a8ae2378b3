"""The error for a fault a layer cannot produce; it names the layers that can."""

from __future__ import annotations


class FaultNotSupported(ValueError):
    """`fault` cannot be injected at `layer`; `able` are the layers that can."""

    def __init__(self, description: str, layer: str, able: tuple[str, ...], why: str) -> None:
        self.layer = layer
        self.able = able
        elsewhere = f"layers that can: {', '.join(able)}" if able else "no layer can"
        super().__init__(f"{description} cannot be injected at the {layer} layer ({why}); {elsewhere}")
