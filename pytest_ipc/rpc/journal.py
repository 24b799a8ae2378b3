"""What an RPC stub saw: every call with its timing, deadline, metadata, request(s), status and test.

Calls are recorded by the transport's threads (or loop) and read from the test's thread: the journal
takes a lock for each change and readers get a snapshot. The entries satisfy the journal protocol the
resilience assertions read (`started`, `ended`, `faults`, `endpoint`, `describe()`), so the same
assertions judge HTTP and RPC clients. The journal itself (counting, snapshots, rendering) is
`pytest_ipc._journal`'s, shared with the HTTP stub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_ipc._journal import CallJournal, Recorded

if TYPE_CHECKING:
    from pytest_ipc.rpc.methods import MethodRoute


@dataclass
class RpcCall(Recorded):
    """One call. `method` is the full name ("/shop.v1.Orders/Get"); `started`/`ended` are
    `time.monotonic()` seconds; `deadline` is the time the client had left when the call arrived
    (seconds, None when it sent no deadline); `in_flight` counts the calls being answered as this one
    arrived, itself included; `code` is the status sent (None while running, or when the call was
    cancelled first: then `cancelled` is True); `test` is the node id of the test it belongs to."""

    method: str
    metadata: dict[str, str]
    started: float
    deadline: float | None = None
    in_flight: int = 1
    requests: list[object] = field(default_factory=list)
    ended: float | None = None
    code: str | None = None
    details: str = ""
    responses: int = 0  # messages sent before the status
    route: MethodRoute | None = None
    faults: list[str] = field(default_factory=list)
    unmatched: bool = False
    closest_misses: list[str] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False
    test: str | None = None
    _epoch: int = field(default=-1, repr=False, compare=False)  # the journal generation it was begun in

    @property
    def request(self) -> object:
        """The first request message (the only one of a unary call), or None."""
        return self.requests[0] if self.requests else None

    @property
    def service(self) -> str:
        return self.method.strip("/").split("/", 1)[0]

    @property
    def name(self) -> str:
        """The method's own name ("Get")."""
        return self.method.rsplit("/", 1)[-1]

    @property
    def endpoint(self) -> str:
        """What the call was for, in one line (the journal protocol's name for it)."""
        return self.method

    @property
    def deadline_at(self) -> float | None:
        """When the client's deadline expires, on the `time.monotonic()` clock; None without one."""
        return None if self.deadline is None else self.started + self.deadline

    def describe(self) -> str:
        deadline = "no deadline" if self.deadline is None else f"deadline {self.deadline:.3f} s"
        outcome = f"-> {self.code}" if self.code is not None else ("-> (cancelled)" if self.cancelled else "-> (running)")
        if self.code not in (None, "OK") and self.details:
            outcome += f" ({self.details})"  # which failure: a Thrift stub's declared exception, say
        extra = f" [{self.fault}]" if self.faults else ""
        return f"{self.method} ({deadline}) {outcome}{extra}"


class RpcJournal(CallJournal[RpcCall]):
    """Every call one test's stub saw, in arrival order, and the peak of them in flight."""
