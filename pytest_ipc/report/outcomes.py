"""The fixed vocabulary of what a dependency fault did to the caller, worst last."""

from __future__ import annotations

from enum import Enum

from pytest_ipc._errors import IpcUsageError


class ReportUsageError(IpcUsageError):
    """A record the report cannot take (an unknown outcome, a negative latency...)."""


class Outcome(str, Enum):  # noqa: UP042  (StrEnum would change what str() and format() give for a public enum)
    """How a call through a fault ended, as the resilience report prints it."""

    RECOVERED = "recovered"
    SERVED_FALLBACK = "served fallback"
    FAILED_FAST = "failed fast"
    TIMED_OUT = "timed out within budget"
    HUNG = "hung"
    BROKE = "broke"

    @classmethod
    def parse(cls, value: Outcome | str) -> Outcome:
        """`value` as an Outcome; accepts the label or the member name (``"served fallback"``,
        ``"SERVED_FALLBACK"``, ``"served_fallback"``); anything else is a ReportUsageError listing the choices."""
        if isinstance(value, Outcome):
            return value
        text = str(value).strip()
        for outcome in cls:
            if text == outcome.value or text.upper() == outcome.name or text.replace("_", " ") == outcome.value:
                return outcome
        choices = ", ".join(repr(outcome.value) for outcome in cls)
        raise ReportUsageError(f"unknown resilience outcome {value!r}; choose one of: {choices}")
