"""Named state machines for stateful stubs: a route can answer only in one state and move to another.

    cart = http_stub.scenario("cart", initial="empty", states=["empty", "filled", "paid"])
    http_stub.expect("POST", "/cart/items").in_state(cart, "empty", then="filled").respond(status=201)
    http_stub.expect("GET", "/cart").in_state(cart, "filled").respond(json={"items": 1})
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_ipc._errors import IpcUsageError


class Scenario:
    """One named state; `states`, when given, is the whole set and anything else is a ValueError."""

    def __init__(self, name: str, initial: str = "started", states: Iterable[str] | None = None) -> None:
        self.name = name
        self.states = tuple(states) if states is not None else None
        self.initial = self.check(initial)
        self.state = self.initial
        self.history: list[str] = [initial]

    def check(self, state: str) -> str:
        if self.states is not None and state not in self.states:
            raise ValueError(f"scenario {self.name!r} has no state {state!r}; its states are: {', '.join(self.states)}")
        return state

    def move_to(self, state: str) -> None:
        self.state = self.check(state)
        self.history.append(state)

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, state={self.state!r})"


def scenario_in(scenarios: dict[str, Scenario], name: str, initial: str, states: Iterable[str] | None) -> Scenario:
    """The scenario called `name` in a stub's `scenarios`, created on first use (the HTTP and RPC stubs' `scenario()`)."""
    existing = scenarios.get(name)
    if existing is not None:
        if existing.initial != initial or (states is not None and tuple(states) != existing.states):
            raise IpcUsageError(f"scenario {name!r} already exists with initial={existing.initial!r}, states={existing.states}")
        return existing
    created = scenarios[name] = Scenario(name, initial, states)
    return created
