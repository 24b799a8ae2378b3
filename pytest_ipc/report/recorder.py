"""Where outcomes are collected: one `Recorder` per pytest process, fed by tests and assertions.

Anything may call `record(...)` (the module function): the `ipc_report` fixture, the plugin's
resilience assertions, a user's helper. Outside a pytest session with the plugin it does nothing, so
library code can call it unconditionally.

Besides the records, the recorder keeps a `Trace` per test: what happened when (faults injected and
healed, calls, requests the stub saw, breaker states), how the test ended and why, so the HTML
report can draw a timeline per test and link each cell to its tests.

Records come from three sources, the most specific winning: the fault matrix records each cell by
itself (``matrix``: it knows only whether the test passed), a resilience assertion records what it
measured (``assertion``), and the test's own `record`/`measure` calls (``user``). When a test ends:
if it recorded anything itself, only its own records stay (the test keeps full control of what it
reports, under its own names); otherwise, per dependency × fault, an assertion's records replace the
matrix's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_ipc.report.outcomes import Outcome, ReportUsageError

#: Where a record came from, least specific first (a later source replaces an earlier one in a test's cell).
SOURCES = ("matrix", "assertion", "user")
#: The kinds of timeline events, as the JSON report and the HTML timeline name them.
EVENT_KINDS = ("fault", "heal", "call", "request", "breaker", "record")
MAX_EVENTS = 500  # per test: a load test's thousands of calls would swamp the report


@dataclass(frozen=True)
class Record:
    """One observation: calling `dependency` under `fault` ended with `outcome` after `latency`."""

    dependency: str
    fault: str
    outcome: Outcome
    latency: float
    test: str = ""
    source: str = "user"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(str(data["dependency"]), str(data["fault"]), Outcome.parse(data["outcome"]),
                   float(data["latency"]), str(data.get("test", "")), str(data.get("source", "user")))


@dataclass
class Event:
    """One thing on a test's timeline, `at` seconds after the test started (`duration` for spans)."""

    at: float
    kind: str
    text: str
    duration: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"at": round(self.at, 6), "kind": self.kind, "text": self.text,
                "duration": None if self.duration is None else round(self.duration, 6)}


@dataclass
class Trace:
    """One test as the report shows it: how it ended, why, its matrix cell and its timeline."""

    started: float
    outcome: str = ""
    message: str = ""
    duration: float = 0.0
    cell: dict[str, str] | None = None
    dependency: str | None = None  # the name the test gave its dependency (`ipc_report.dependency`)
    unproven: bool = False  # it failed because a fault never fired: its matrix cell proved nothing
    events: list[Event] = field(default_factory=list)
    dropped: int = 0
    active_faults: list[Any] = field(default_factory=list)  # the ActiveFaults in place now
    faults_seen: list[Any] = field(default_factory=list)  # every ActiveFault started in the test, in order

    def note(self, kind: str, text: str, *, at: float | None = None, duration: float | None = None) -> Event | None:
        if len(self.events) >= MAX_EVENTS:
            self.dropped += 1
            return None
        moment = time.monotonic() if at is None else at
        event = Event(max(0.0, moment - self.started), kind, text, duration)
        self.events.append(event)
        return event

    def cell_key(self) -> tuple[str, str] | None:
        """(dependency, fault) of the matrix cell this test runs, with the test's own dependency name if it gave one."""
        if self.cell is None:
            return None
        return self.dependency or self.cell["dependency"], self.cell["fault"]

    def to_json(self) -> dict[str, Any]:
        timeline = sorted((event.to_json() for event in self.events), key=lambda event: event["at"])
        return {"outcome": self.outcome, "message": self.message, "duration": round(self.duration, 6),
                "cell": self.cell, "timeline": timeline, "dropped_events": self.dropped}


class Recorder:
    """The session's records and test traces, plus the test currently running (to label records)."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.tests: dict[str, dict[str, Any]] = {}  # node id -> finished trace, as JSON (xdist sends these)
        self.current_test: str = ""
        self.current_properties: list[tuple[str, object]] | None = None
        self.trace: Trace | None = None
        self._noted: dict[int, Event] = {}  # id of a record of the running test -> its timeline event
        self._lock = threading.Lock()

    def add(self, dependency: str, fault: str, outcome: Outcome | str, latency: float, *, source: str = "user") -> Record:
        if not dependency or not fault:
            raise ReportUsageError(f"a resilience record needs a dependency and a fault name, got {dependency!r}, {fault!r}")
        if latency < 0:
            raise ReportUsageError(f"latency must be >= 0 seconds, got {latency!r}")
        entry = Record(dependency, fault, Outcome.parse(outcome), float(latency), self.current_test, source)
        with self._lock:
            self.records.append(entry)
        if self.trace is not None:
            event = self.trace.note("record", f"{dependency} × {fault}: {entry.outcome.value} in {entry.latency:.3f}s ({source})",
                                    at=time.monotonic() - entry.latency, duration=entry.latency)
            if event is not None:
                self._noted[id(entry)] = event
        return entry

    def extend(self, records: Iterable[Record]) -> None:
        self.records.extend(records)

    def begin(self, test: str, properties: list[tuple[str, object]] | None) -> Trace:
        """A test starts: its records are labelled with it and its timeline begins."""
        self.current_test, self.current_properties = test, properties
        self.trace = Trace(time.monotonic())
        return self.trace

    def settle(self) -> list[Record]:
        """The current test's records once its sources are weighed (see the module docstring): its own
        records alone if it made any, else per dependency × fault those of the most specific source."""
        test = self.current_test
        mine = [entry for entry in self.records if entry.test == test]
        best: dict[tuple[str, str], int] = {}
        for entry in mine:
            key = (entry.dependency, entry.fault)
            best[key] = max(best.get(key, -1), SOURCES.index(entry.source))
        if any(entry.source == "user" for entry in mine):
            kept = [entry for entry in mine if entry.source == "user"]
        else:
            kept = [entry for entry in mine if SOURCES.index(entry.source) == best[(entry.dependency, entry.fault)]]
        if len(kept) != len(mine):
            with self._lock:
                self.records = [entry for entry in self.records if entry.test != test] + kept
            staying = {id(entry) for entry in kept}
            replaced = [self._noted[id(entry)] for entry in mine if id(entry) not in staying and id(entry) in self._noted]
            if self.trace is not None:
                self.trace.events = [event for event in self.trace.events if not any(event is gone for gone in replaced)]
        if self.current_properties is not None:
            self.current_properties.extend(
                (f"ipc:{entry.dependency}:{entry.fault}", f"{entry.outcome.value} in {entry.latency:.3f}s") for entry in kept
            )
        return kept

    def end(self) -> None:
        """The test is over: keep its trace as JSON (when it has something to show), stop labelling."""
        if self.trace is not None and self.current_test and (self.trace.events or self.trace.cell):
            self.tests[self.current_test] = self.trace.to_json()
        self.current_test, self.current_properties, self.trace = "", None, None
        self._noted.clear()


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


def current_trace() -> Trace | None:
    """The running test's trace, or None outside a recording session's test."""
    recorder = _active
    return None if recorder is None else recorder.trace


def note(kind: str, text: str, *, at: float | None = None, duration: float | None = None) -> None:
    """Put an event on the running test's timeline (`at`: a `time.monotonic()` moment, default now); a no-op elsewhere."""
    trace = current_trace()
    if trace is not None:
        trace.note(kind, text, at=at, duration=duration)


def fault_started(active: Any, text: str) -> Event | None:
    """A fault went in place (`faults.start`): a bar on the timeline until `fault_healed`."""
    trace = current_trace()
    if trace is None:
        return None
    trace.active_faults.append(active)
    trace.faults_seen.append(active)
    return trace.note("fault", text)


def fault_healed(active: Any, event: Event | None) -> None:
    """The fault `fault_started` noted was removed: its bar ends now."""
    trace = current_trace()
    if trace is not None and active in trace.active_faults:
        trace.active_faults.remove(active)
        if event is not None:
            event.duration = max(0.0, time.monotonic() - trace.started - event.at)


def record(dependency: str, fault: str, outcome: Outcome | str, latency: float) -> Record | None:
    """Add one row to the session's resilience report; a no-op (None) when no session records.

    `outcome` is an `Outcome` or its label: recovered, served fallback, failed fast, timed out within
    budget, hung, broke."""
    recorder = _active
    if recorder is None:
        Outcome.parse(outcome)  # still reject a typo
        return None
    return recorder.add(dependency, fault, outcome, latency)


def record_automatic(dependency: str, fault: str, outcome: Outcome, latency: float, source: str) -> Record | None:
    """A record the plugin makes by itself (`source`: "matrix" or "assertion"); a no-op outside a test."""
    recorder = _active
    if recorder is None or not recorder.current_test:
        return None
    return recorder.add(dependency, fault, outcome, latency, source=source)


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
    def dependency(self) -> str | None:
        """The name this test's automatic records give the dependency (default: the stub fixture's name)."""
        trace = self._recorder.trace
        return None if trace is None else trace.dependency

    @dependency.setter
    def dependency(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ReportUsageError(f"ipc_report.dependency takes a non-empty name (e.g. 'orders-api'), got {name!r}")
        trace = self._recorder.trace
        if trace is not None:
            trace.dependency = name.strip()

    @property
    def records(self) -> list[Record]:
        """What this test recorded so far."""
        return [entry for entry in self._recorder.records if entry.test == self._test]
