"""The errors of the fault API: bad input (usage errors naming the choices) and a fault that never fired."""

from __future__ import annotations

from pytest_ipc._errors import IpcAssertionError, IpcUsageError


class FaultUsageError(IpcUsageError):
    """An unknown fault, parameter, layer or target; the message lists the valid choices."""


class FaultNotSupported(FaultUsageError):
    """`fault` cannot be injected at `layer`; `able` are the layers that can."""

    def __init__(self, description: str, layer: str, able: tuple[str, ...], why: str) -> None:
        self.layer = layer
        self.able = able
        elsewhere = f"layers that can: {', '.join(able)}" if able else "no layer can"
        super().__init__(f"{description} cannot be injected at the {layer} layer ({why}); {elsewhere}")


class FaultNeverFired(IpcAssertionError):
    """A fault was injected and never fired, so the test proved nothing about it."""
