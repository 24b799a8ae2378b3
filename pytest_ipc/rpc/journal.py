"""What an RPC stub saw: every call with its timing, deadline, metadata, request(s), status and test.

Calls are recorded by the transport's threads (or loop) and read from the test's thread: the journal
takes a lock for each change and readers get a snapshot. The entries satisfy the journal protocol the
resilience assertions read (`started`, `ended`, `faults`, `endpoint`, `describe()`), so the same
assertions judge HTTP and RPC clients.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ipc.rpc.methods import MethodRoute


@dataclass
class RpcCall:
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

    @property
    def fault(self) -> str | None:
        return "+".join(self.faults) or None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def matched(self) -> bool:
        return self.route is not None

    def describe(self) -> str:
        deadline = "no deadline" if self.deadline is None else f"deadline {self.deadline:.3f} s"
        outcome = f"-> {self.code}" if self.code is not None else ("-> (cancelled)" if self.cancelled else "-> (running)")
        if self.code not in (None, "OK") and self.details:
            outcome += f" ({self.details})"  # which failure: a Thrift stub's declared exception, say
        extra = f" [{self.fault}]" if self.faults else ""
        return f"{self.method} ({deadline}) {outcome}{extra}"


class RpcJournal:
    """Every call one test's stub saw, in arrival order, and the peak of them in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[RpcCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._epoch = 0

    def begin(self, call: RpcCall) -> RpcCall:
        with self._lock:
            self.entries.append(call)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            call.in_flight = self.in_flight
            call._epoch = self._epoch
        return call

    def finish(self, call: RpcCall, ended: float) -> None:
        with self._lock:
            if call.ended is None:
                call.ended = ended
                if call._epoch == self._epoch:  # a call of a cleared journal no longer counts
                    self.in_flight -= 1

    def clear(self) -> None:
        with self._lock:
            self.entries = []
            self.in_flight = 0
            self.max_in_flight = 0
            self._epoch += 1

    def snapshot(self) -> list[RpcCall]:
        with self._lock:
            return list(self.entries)

    def calls(self, route: MethodRoute) -> list[RpcCall]:
        return [entry for entry in self.snapshot() if entry.route is route]

    def unmatched(self) -> list[RpcCall]:
        return [entry for entry in self.snapshot() if entry.unmatched]

    def render(self, entries: list[RpcCall] | None = None) -> str:
        shown = self.snapshot() if entries is None else entries
        if not shown:
            return "journal: (no calls)"
        lines = [f"journal ({len(shown)} call(s)):"]
        lines += [f"  {index}. {entry.describe()}" for index, entry in enumerate(shown, 1)]
        return "\n".join(lines)
