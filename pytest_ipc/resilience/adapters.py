"""Optional adapters that record a breaker library's own state changes, next to the black-box probe.

Each adapter fills a `BreakerStates` with "closed" / "open" / "half-open" transitions:
pybreaker and purgatory through their listener hooks; circuitbreaker has none, so its state is read
on `poll()` (the breaker probe polls after every call). The libraries are imported only when used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.report.recorder import note
from pytest_ipc.resilience.calls import ResilienceUsageError

STATES = ("closed", "open", "half-open")


@dataclass
class BreakerStates:
    """The transitions seen so far, as (monotonic time, old state, new state)."""

    transitions: list[tuple[float, str, str]] = field(default_factory=list)
    _read: Any = None  # for libraries without hooks: reads the current state
    _last: str | None = None

    def record(self, old: str, new: str) -> None:
        if old != new:
            self.transitions.append((time.monotonic(), old, new))
            note("breaker", f"{old} → {new}")  # the running test's timeline in the resilience report

    def poll(self) -> None:
        """Read the state of a hook-less library; a no-op for the others."""
        if self._read is None:
            return
        current = _normalise(self._read())
        if self._last is not None:
            self.record(self._last, current)
        self._last = current

    @property
    def states(self) -> list[str]:
        """The states entered, in order."""
        return [new for _, _, new in self.transitions]

    def describe(self) -> str:
        if not self.transitions:
            return "(no state change)"
        return " -> ".join([self.transitions[0][1], *self.states])

    def assert_states(self, *expected: str) -> None:
        """The breaker entered exactly these states, in this order."""
        unknown = [state for state in expected if state not in STATES]
        if unknown:
            raise ResilienceUsageError(f"unknown breaker state(s) {unknown}; choose from: {', '.join(STATES)}")
        if self.states != list(expected):
            raise IpcAssertionError(f"expected the breaker to go through {' -> '.join(expected)}, it went: {self.describe()}")


# Each library's spelling of the three states (pybreaker: "half-open", circuitbreaker: "half_open",
# purgatory: "opened", "half-opened").
_SPELLINGS = {"closed": "closed", "open": "open", "opened": "open", "half-open": "half-open", "half-opened": "half-open"}


def _normalise(state: object) -> str:
    text = str(getattr(state, "name", state)).lower().replace("_", "-")
    if text not in _SPELLINGS:
        raise ResilienceUsageError(f"unknown breaker state {state!r}; known: {', '.join(_SPELLINGS)}")
    return _SPELLINGS[text]


def watch_pybreaker(breaker: Any) -> BreakerStates:
    """Record a `pybreaker.CircuitBreaker`'s transitions through a listener."""
    import pybreaker

    states = BreakerStates()

    class Listener(pybreaker.CircuitBreakerListener):
        def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
            states.record(_normalise(old_state.name), _normalise(new_state.name))

    breaker.add_listener(Listener())
    return states


def watch_circuitbreaker(breaker: Any) -> BreakerStates:
    """Record a `circuitbreaker.CircuitBreaker`'s transitions by reading `.state` on each `poll()`."""
    states = BreakerStates(_read=lambda: breaker.state)
    states.poll()
    return states


def watch_purgatory(factory: Any, circuit: str) -> BreakerStates:
    """Record the transitions of `circuit` in a purgatory (a)sync circuit breaker factory."""
    states = BreakerStates()
    last = {"state": "closed"}

    def hook(name: str, event_name: str, event: Any) -> None:
        if name == circuit and event_name == "state_changed":
            new = _normalise(event.state)
            states.record(last["state"], new)
            last["state"] = new

    factory.add_listener(hook)
    return states
