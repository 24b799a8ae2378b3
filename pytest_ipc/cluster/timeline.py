"""The timeline of one cluster test: what the harness did to the cluster and what the client saw.

Every fault (kill, pause, partition, heal) and every client observation (a publish confirmed or
refused, a delivery, a reconnect) lands here with its time since the test started, so that a failed
verdict can show the order of events that explains it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

#: Who recorded an event: the harness acting on the cluster, or the client under test.
CLUSTER = "cluster"
CLIENT = "client"
SHOWN = 40
"""How many events a failure message shows before it abbreviates (the first and the last ones)."""


@dataclass(frozen=True)
class Event:
    """One entry: `at` seconds after the timeline began, who recorded it, what happened."""

    at: float
    source: str
    text: str
    kind: str = "note"
    node: str | None = None
    #: The nodes a fault leaves out of the serving majority (a killed node, a partition's minority).
    out: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.at:8.3f} s  {self.source:<7}  {self.text}"


class Timeline:
    """Thread-safe, append-only list of events; `reset` starts a new test's timeline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._events: list[Event] = []

    def reset(self) -> None:
        """Forget every event and start the clock again (between tests)."""
        with self._lock:
            self._start = time.monotonic()
            self._events = []

    def now(self) -> float:
        """Seconds since the timeline began."""
        return time.monotonic() - self._start

    def record(self, source: str, text: str, *, kind: str = "note", node: str | None = None, out: frozenset[str] = frozenset()) -> Event:
        """Append an event stamped now and return it."""
        with self._lock:
            event = Event(time.monotonic() - self._start, source, text, kind, node, out)
            self._events.append(event)
        return event

    @property
    def events(self) -> list[Event]:
        """A copy of the events so far, oldest first."""
        with self._lock:
            return list(self._events)

    def of_kind(self, *kinds: str) -> list[Event]:
        """The events of the given kinds, oldest first."""
        return [event for event in self.events if event.kind in kinds]

    def render(self, limit: int = SHOWN) -> str:
        """The events as lines, for a failure message.

        A client's run of events of one kind (a publish confirmed every 50 ms) reads as one line with
        its first and last entries and a count; the harness's events always show. Beyond `limit`
        lines the head and the tail are kept, and every cluster event between them (the fault a
        verdict is about must never be folded away)."""
        runs = _runs(self.events)
        if not runs:
            return "  (no events)"
        kept: list[int] = list(range(len(runs)))
        if len(runs) > limit:
            head, tail = limit // 4, limit - limit // 4
            kept = [index for index, run in enumerate(runs) if index < head or index >= len(runs) - tail or run.first.source == CLUSTER]
        lines: list[str] = []
        previous = -1
        for index in kept:
            if index > previous + 1:
                lines.append(f"     ... {index - previous - 1} more line(s) ...")
            lines.append(str(runs[index]))
            previous = index
        return "\n".join(f"  {line}" for line in lines)


@dataclass
class _Run:
    """Consecutive events of one source and kind."""

    first: Event
    last: Event
    count: int = 1

    def __str__(self) -> str:
        if self.count == 1:
            return str(self.first)
        span = f"{self.first.at:8.3f}-{self.last.at:.3f} s"
        return f"{span}  {self.first.source:<7}  {self.first.text} ... {self.last.text} ({self.count} events)"


def _runs(events: list[Event]) -> list[_Run]:
    """Fold each source's consecutive events of one kind into a run; a harness event ends every run."""
    done: list[_Run] = []
    open_runs: dict[str, _Run] = {}

    def flush(source: str | None = None) -> None:
        for key in [source] if source is not None else list(open_runs):
            if key in open_runs:
                done.append(open_runs.pop(key))

    for event in events:
        if event.source == CLUSTER:
            flush()
            done.append(_Run(event, event))
            continue
        run = open_runs.get(event.source)
        if run is not None and run.first.kind == event.kind:
            run.last, run.count = event, run.count + 1
        else:
            flush(event.source)
            open_runs[event.source] = _Run(event, event)
    flush()
    return sorted(done, key=lambda run: run.first.at)
