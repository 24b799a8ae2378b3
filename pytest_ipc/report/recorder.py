"""Where outcomes are collected: one `Recorder` per pytest process, fed by tests and assertions.

Anything may call `record(...)` (the module function): the `ipc_report` fixture, the plugin's
resilience assertions, a user's helper. Outside a pytest session with the plugin it does nothing, so
library code can call it unconditionally.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from pytest_ipc.report.outcomes import Outcome, ReportUsageError


@dataclass(frozen=True)
class Record:
    """One observation: calling `dependency` under `fault` ended with `outcome` after `latency`."""

    dependency: str
    fault: str
    outcome: Outcome
    latency: float
    test: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(str(data["dependency"]), str(data["fault"]), Outcome.parse(data["outcome"]),
                   float(data["latency"]), str(data.get("test", "")))


class Recorder:
    """The session's records, plus the test currently running (to label records and add JUnit properties)."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.current_test: str = ""
        self.current_properties: list[tuple[str, object]] | None = None

    def add(self, dependency: str, fault: str, outcome: Outcome | str, latency: float) -> Record:
        if not dependency or not fault:
            raise ReportUsageError(f"a resilience record needs a dependency and a fault name, got {dependency!r}, {fault!r}")
        if latency < 0:
            raise ReportUsageError(f"latency must be >= 0 seconds, got {latency!r}")
        entry = Record(dependency, fault, Outcome.parse(outcome), float(latency), self.current_test)
        self.records.append(entry)
        if self.current_properties is not None:
            self.current_properties.append(
                (f"ipc:{dependency}:{fault}", f"{entry.outcome.value} in {entry.latency:.3f}s")
            )
        return entry

    def extend(self, records: Iterable[Record]) -> None:
        self.records.extend(records)


class Measurement:
    """What `measure()` yields: set `.outcome` in the block; an escaping exception means "broke"."""

    def __init__(self) -> None:
        self.outcome: Outcome | str | None = None
        self.latency: float = 0.0


_active: Recorder | None = None


def activate(recorder: Recorder | None) -> None:
    """Make `recorder` the process's (the plugin does this at configure time; None switches off)."""
    global _active
    _active = recorder


def active() -> Recorder | None:
    return _active


def record(dependency: str, fault: str, outcome: Outcome | str, latency: float) -> Record | None:
    """Add one row to the session's resilience report; a no-op (None) when no session records.

    `outcome` is an `Outcome` or its label: recovered, served fallback, failed fast, timed out within
    budget, hung, broke."""
    recorder = _active
    if recorder is None:
        Outcome.parse(outcome)  # still reject a typo
        return None
    return recorder.add(dependency, fault, outcome, latency)


@contextmanager
def measure(dependency: str, fault: str) -> Iterator[Measurement]:
    """Time the block and record it: set ``.outcome`` inside; an exception escaping unset records "broke"."""
    measurement = Measurement()
    started = time.monotonic()
    try:
        yield measurement
    except BaseException:
        measurement.latency = time.monotonic() - started
        record(dependency, fault, measurement.outcome or Outcome.BROKE, measurement.latency)
        raise
    measurement.latency = time.monotonic() - started
    if measurement.outcome is None:
        raise ReportUsageError(f"measure({dependency!r}, {fault!r}): the block ended without setting .outcome")
    record(dependency, fault, measurement.outcome, measurement.latency)


class ReportHandle:
    """The ``ipc_report`` fixture: record outcomes for the session report from a test."""

    def __init__(self, recorder: Recorder, test: str) -> None:
        self._recorder = recorder
        self._test = test

    def record(self, dependency: str, fault: str, outcome: Outcome | str, latency: float) -> Record:
        return self._recorder.add(dependency, fault, outcome, latency)

    def measure(self, dependency: str, fault: str) -> AbstractContextManager[Measurement]:
        return measure(dependency, fault)

    @property
    def records(self) -> list[Record]:
        """What this test recorded so far."""
        return [entry for entry in self._recorder.records if entry.test == self._test]
