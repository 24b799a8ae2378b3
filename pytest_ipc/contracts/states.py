"""Provider states: `@provider_state("an order exists")` puts the provider in the state a pact needs.

A handler may take the state's parameters (one argument, a dict) or nothing. A generator handler
gets its teardown for free: the code after its `yield` runs once the interaction was verified.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar

StateHandler = Callable[..., Any]
H = TypeVar("H", bound=StateHandler)


class UnknownProviderState(LookupError):
    """The pact needs a state nobody registered a handler for."""


class ProviderStates:
    """State name → handler, plus the teardowns of the states currently set up."""

    def __init__(self) -> None:
        self.handlers: dict[str, StateHandler] = {}
        self._pending_teardowns: dict[str, Generator[Any, Any, Any]] = {}

    def register(self, name: str, handler: StateHandler) -> None:
        if name in self.handlers and self.handlers[name] is not handler:
            raise ValueError(f"provider state {name!r} already has a handler: {self.handlers[name].__qualname__}")
        self.handlers[name] = handler

    def setup(self, name: str, params: dict[str, Any]) -> None:
        if name not in self.handlers:
            known = ", ".join(repr(known) for known in sorted(self.handlers)) or "none"
            raise UnknownProviderState(
                f"no handler for provider state {name!r}; registered states: {known} "
                f"(register one with @provider_state({name!r}))"
            )
        handler = self.handlers[name]
        outcome = handler(params) if _takes_params(handler) else handler()
        if inspect.isgenerator(outcome):
            next(outcome)
            self._pending_teardowns[name] = outcome

    def teardown(self, name: str) -> None:
        generator = self._pending_teardowns.pop(name, None)
        if generator is not None:
            next(generator, None)


def _takes_params(handler: StateHandler) -> bool:
    return len(inspect.signature(handler).parameters) > 0


DEFAULT_STATES = ProviderStates()


def provider_state(name: str, *, registry: ProviderStates = DEFAULT_STATES) -> Callable[[H], H]:
    """Register the decorated function as the handler of provider state `name`."""

    def decorate(handler: H) -> H:
        registry.register(name, handler)
        return handler

    return decorate
