"""What the stub saw: every request with its timing, route, outcome and test, and the peak concurrency.

Entries are written on the stub's loop thread and read from the test's thread through snapshots, so a
test can look at the journal while clients are still calling; the journal itself (counting, snapshots,
rendering) is `pytest_ipc._journal`'s, shared with the RPC stubs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_ipc._journal import CallJournal, Recorded
from pytest_ipc.stub.request import StubRequest

if TYPE_CHECKING:
    from pytest_ipc.stub.routes import Route


@dataclass
class JournalEntry(Recorded):
    """One request: `started`/`ended` are `time.monotonic()` seconds; `status` is None when a fault
    took the connection over (then `fault` names it) or the request was cancelled at reset; `test` is
    the node id of the test whose port it reached (None outside the `http_stub` fixture)."""

    request: StubRequest
    started: float
    ended: float | None = None
    route: Route | None = None
    status: int | None = None
    faults: list[str] = field(default_factory=list)
    unmatched: bool = False
    closest_misses: list[str] = field(default_factory=list)  # why the nearest routes did not match
    error: str | None = None
    test: str | None = None
    in_flight: int = 1  # requests being answered as this one arrived, itself included
    _epoch: int = field(default=-1, repr=False, compare=False)  # the journal generation it was begun in

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def query(self) -> dict[str, list[str]]:
        return self.request.query

    @property
    def headers(self) -> dict[str, str]:
        return self.request.headers

    @property
    def body(self) -> bytes:
        return self.request.body

    @property
    def text(self) -> str:
        return self.request.text

    def json(self) -> object:
        """The request body decoded as JSON; raises ValueError when it is not JSON."""
        return self.request.json()

    @property
    def params(self) -> dict[str, str]:
        """The path template's parameters (`/orders/{order_id}` -> `{"order_id": "o-1"}`)."""
        return self.request.params

    @property
    def endpoint(self) -> str:
        """The method and path, without the query (the journal protocol's one-line name for it)."""
        return f"{self.request.method} {self.request.path}"

    @property
    def claims(self) -> dict[str, object] | None:
        """The bearer JWT's claims when a JWT check read them (also from a refused token), else None."""
        return self.request.claims

    @property
    def token_problem(self) -> str | None:
        """Why a credential check refused the request ("token expired"...), else None."""
        return self.request.token_problem

    def describe(self) -> str:
        outcome = f"-> {self.status}" if self.status is not None else "-> (no response)"
        extra = f" [{self.fault}]" if self.faults else ""
        return f"{self.request.describe()} {outcome}{extra}"


class Journal(CallJournal[JournalEntry]):
    """Every request one test's stub saw, in arrival order, and the peak of them in flight."""

    noun = "request"

    def load(self, entries: list[JournalEntry], now: float) -> None:
        """Replace the entries with those read back from a server that keeps its own journal
        (WireMock); the peak concurrency comes from their intervals (an open one lasts until `now`)."""
        self.entries = entries
        self.in_flight = sum(entry.ended is None for entry in entries)
        steps = [(entry.started, 1) for entry in entries]
        steps += [(now if entry.ended is None else entry.ended, -1) for entry in entries]
        running = peak = 0
        for _at, step in sorted(steps):  # at the same instant an end comes first: touching is not overlapping
            running += step
            peak = max(peak, running)
        self.max_in_flight = peak

    def assert_called(self, route: Route, times: int | None = None) -> None:
        """At least once, or exactly `times` times."""
        count = len(self.calls(route))
        if (times is None and count == 0) or (times is not None and count != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(f"{route.name} was expected to be called {wanted}, was called {count} time(s)\n{self.render()}")

    def assert_called_in_order(self, routes: list[Route]) -> None:
        """The routes were called in this order (other calls may come in between)."""
        position = 0
        entries = self.snapshot()
        for wanted in routes:
            while position < len(entries) and entries[position].route is not wanted:
                position += 1
            if position == len(entries):
                order = " -> ".join(route.name for route in routes)
                raise AssertionError(
                    f"expected calls in the order {order}; {wanted.name} is missing after the earlier ones\n{self.render()}"
                )
            position += 1

    def line(self, entry: JournalEntry) -> str:
        return f"{entry.describe()}  route={entry.route.name if entry.route else None}"
