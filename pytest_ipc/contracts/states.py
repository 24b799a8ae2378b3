"""Provider states: `@provider_state("an order exists", provider="Orders")` puts a provider in the
state a pact needs.

Each provider has its own registry (`states_for("Orders")`), so two providers that both know "a user
exists" never clash. A handler takes the state's parameters (one argument, a dict) or nothing, and
may return a dict of values: the verifier injects them where the pact says `fromProviderState`
(pact-js) or has a `ProviderState` generator, for example the id of the row it just created. A
generator handler yields those values (or nothing) and gets its teardown for free: the code after
its `yield` runs once the interaction was verified.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.contracts.errors import UnknownProviderState

StateHandler = Callable[..., Any]
H = TypeVar("H", bound=StateHandler)


class ProviderStates:
    """State name -> handler for one provider, plus the teardowns of the states currently set up."""

    def __init__(self, provider: str | None = None) -> None:
        """`provider` only names the registry in messages."""
        self.provider = provider
        self.handlers: dict[str, StateHandler] = {}
        self._pending_teardowns: dict[str, Generator[Any, Any, Any]] = {}

    def __repr__(self) -> str:
        return f"<ProviderStates {self.provider or 'unnamed'}: {sorted(self.handlers)}>"

    def register(self, name: str, handler: StateHandler) -> None:
        """Register `handler` for state `name`; the same function imported again replaces itself."""
        if name in self.handlers and _where(self.handlers[name]) != _where(handler):
            raise IpcUsageError(
                f"provider state {name!r}{self._of()} already has a handler: {self.handlers[name].__qualname__}; "
                f"{handler.__qualname__} cannot be a second one. Register each state once per provider "
                "(states of different providers are told apart by provider=...)."
            )
        self.handlers[name] = handler

    def setup(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run the handler of `name`; return the values it gives the verifier (maybe empty)."""
        if name not in self.handlers:
            known = ", ".join(repr(known) for known in sorted(self.handlers)) or "none"
            where = f", provider={self.provider!r}" if self.provider else ""
            raise UnknownProviderState(
                f"no handler for provider state {name!r}{self._of()}; registered states: {known}. "
                f"Register one with @provider_state({name!r}{where})."
            )
        handler = self.handlers[name]
        outcome = handler(params) if _takes_params(handler) else handler()
        if inspect.isgenerator(outcome):
            self._pending_teardowns[name] = outcome
            outcome = next(outcome)
        if outcome is None:
            return {}
        if not isinstance(outcome, Mapping):
            raise IpcUsageError(
                f"the handler {handler.__qualname__} of provider state {name!r} returned a {type(outcome).__name__}. "
                "Expected a dict of values for the pact (or None)."
            )
        return dict(outcome)

    def teardown(self, name: str) -> None:
        generator = self._pending_teardowns.pop(name, None)
        if generator is not None:
            next(generator, None)

    def _of(self) -> str:
        return f" of provider {self.provider!r}" if self.provider else ""


def _where(handler: StateHandler) -> tuple[str, str]:
    return getattr(handler, "__module__", ""), getattr(handler, "__qualname__", repr(handler))


def _takes_params(handler: StateHandler) -> bool:
    return len(inspect.signature(handler).parameters) > 0


_REGISTRIES: dict[str, ProviderStates] = {}


def states_for(provider: str) -> ProviderStates:
    """The registry `@provider_state(..., provider=provider)` fills (created on first use)."""
    return _REGISTRIES.setdefault(provider, ProviderStates(provider))


def provider_state(
    name: str, *, provider: str | None = None, registry: ProviderStates | None = None
) -> Callable[[H], H]:
    """Register the decorated function as the handler of state `name` of `provider` (or in `registry`)."""
    if (provider is None) == (registry is None):
        raise IpcUsageError(
            f"@provider_state({name!r}) needs exactly one of provider='ProviderName' (the provider whose "
            "pacts need the state) or registry=ProviderStates(...), so states of different providers never clash"
        )
    target = registry if registry is not None else states_for(str(provider))

    def decorate(handler: H) -> H:
        target.register(name, handler)
        return handler

    return decorate
