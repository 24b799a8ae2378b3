"""What the resilience assertions and fault proofs read from a stub: its calls, each with timing and faults.

A call's `started` is stamped when the stub has the request, so it is never earlier than the moment the
client began it: `arrived_since` picks one call's requests without slack. (A slack of even 1 ms let the
previous call's request in: on a fast machine the next call begins under 1 ms after the stub read it.)

The one journal protocol the HTTP stub (`HttpStub`, `JournalEntry`) and the RPC stubs (`GrpcStub`,
`RpcCall`) satisfy, so `assert_retries`, `assert_breaker`, `assert_request_cap`... judge any of them
without a copy per transport. Faults go in through `faults.inject(fault, into=stub)`, which finds the
stub's layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar


class ObservedCall(Protocol):
    """One request or call a stub saw (`time.monotonic()` seconds; `ended` None while it runs)."""

    @property
    def started(self) -> float: ...

    @property
    def ended(self) -> float | None: ...

    @property
    def faults(self) -> Sequence[str]:
        """The labels of the faults that fired for it."""

    @property
    def endpoint(self) -> str:
        """What it was for, in one line ("GET /price", "/shop.v1.Orders/Get")."""

    def describe(self) -> str: ...


class ObservedStub(Protocol):
    """A stub whose journal the assertions read."""

    def calls(self, route: Any = None) -> Sequence[ObservedCall]:
        """Its calls, of one route (a route object or name) or all of them, in arrival order."""


CallT = TypeVar("CallT", bound=ObservedCall)


def arrived_since(calls: Iterable[CallT], moment: float) -> list[CallT]:
    """Of a stub's `calls`, those that arrived at or after `moment` (`time.monotonic()`): what one call
    the client began at `moment` (or later ones) sent."""
    return [entry for entry in calls if entry.started >= moment]
