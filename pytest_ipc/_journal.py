"""The journal every stub keeps (the HTTP stub's `Journal`, the RPC stubs' `RpcJournal`).

One owner of what the two share: entries appended in arrival order, the calls in flight and their peak,
a generation per test so a call begun before `clear()` no longer counts, snapshots for readers on
another thread, lookups by route and of the unmatched, and the rendering a failure message shows.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar


class Recorded(Protocol):
    """A journal entry, and what it derives from its timing, faults and route (the entry dataclasses subclass it)."""

    started: float
    ended: float | None
    faults: list[str]
    route: object | None
    unmatched: bool
    in_flight: int
    _epoch: int

    @property
    def fault(self) -> str | None:
        """The faults that fired for it, joined with '+', or None."""
        return "+".join(self.faults) or None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def matched(self) -> bool:
        return self.route is not None

    def describe(self) -> str: ...


EntryT = TypeVar("EntryT", bound=Recorded)


class CallJournal(Generic[EntryT]):
    """Every entry one test's stub saw, in arrival order, and the peak of them in flight."""

    noun = "call"  # what the entries are called in `render()`

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[EntryT] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._epoch = 0

    def begin(self, entry: EntryT) -> EntryT:
        with self._lock:
            self.entries.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            entry.in_flight = self.in_flight
            entry._epoch = self._epoch
        return entry

    def finish(self, entry: EntryT, ended: float) -> None:
        with self._lock:
            if entry.ended is None:
                entry.ended = ended
                if entry._epoch == self._epoch:  # an entry of a cleared journal no longer counts
                    self.in_flight -= 1

    def clear(self) -> None:
        with self._lock:
            self.entries = []
            self.in_flight = 0
            self.max_in_flight = 0
            self._epoch += 1

    def snapshot(self) -> list[EntryT]:
        with self._lock:
            return list(self.entries)

    def calls(self, route: object) -> list[EntryT]:
        return [entry for entry in self.snapshot() if entry.route is route]

    def unmatched(self) -> list[EntryT]:
        return [entry for entry in self.snapshot() if entry.unmatched]

    def render(self, entries: list[EntryT] | None = None) -> str:
        shown = self.snapshot() if entries is None else entries
        if not shown:
            return f"journal: (no {self.noun}s)"
        lines = [f"journal ({len(shown)} {self.noun}(s)):"]
        lines += [f"  {index}. {self.line(entry)}" for index, entry in enumerate(shown, 1)]
        return "\n".join(lines)

    def line(self, entry: EntryT) -> str:
        """One entry in `render()`."""
        return entry.describe()
