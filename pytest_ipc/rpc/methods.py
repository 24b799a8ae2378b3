"""A method route: which calls it takes (method, metadata, request), what it answers, and its own rules.

Replies form a sequence and the last one repeats, as on the HTTP stub: `respond(...)` once is a fixed
answer, several `respond`/`then_respond`/`fail` calls (or `respond_sequence`) answer in turn,
`fail_first(3)` puts three UNAVAILABLE replies in front. Scenarios are the HTTP stub's
(`pytest_ipc.stub.scenarios.Scenario`). Every method returns the route, so a route reads as a sentence.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from pytest_ipc.rpc.codes import check_code
from pytest_ipc.rpc.errors import RpcUsageError
from pytest_ipc.rpc.replies import Metadata, ReplyCallback, RpcReply, metadata_pairs
from pytest_ipc.stub.matchers import NOT_GIVEN, Expected, describe_expected, json_mismatch, value_matches

if TYPE_CHECKING:
    from pytest_ipc.faults.layers.rpc import RpcArmedFault
    from pytest_ipc.faults.vocabulary import Fault
    from pytest_ipc.rpc.journal import RpcCall
    from pytest_ipc.stub.scenarios import Scenario

Arm = Callable[["Fault | str"], "RpcArmedFault"]
AsDict = Callable[[object], object]


class MethodRoute:
    """One expectation of an RPC stub: the calls of `method` whose metadata (and request) match.

    `request` matches the request message partially, as a dict of its fields (or a predicate on the
    message); on a method whose requests stream in, it matches the first of them.
    """

    def __init__(self, method: str, name: str, *, metadata: Mapping[str, Expected] | None, request: object, arm: Arm) -> None:
        self.method = method
        self.name = name
        self.metadata = {key.lower(): value for key, value in (metadata or {}).items()}
        self.request = request
        self._arm = arm
        self.replies: list[RpcReply | ReplyCallback] = []
        self.served = 0
        self.faults: list[RpcArmedFault] = []
        self.scenario: Scenario | None = None
        self.scenario_state: str | None = None
        self.next_state: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MethodRoute({self.name!r})"

    # -- what it answers -------------------------------------------------------------------------
    def respond(
        self, message: object = None, *, messages: Iterable[object] | None = None, trailing_metadata: Metadata | None = None
    ) -> MethodRoute:
        """Answer OK with `message` (a message or a dict of its fields), or a stream of `messages`."""
        if message is not None and messages is not None:
            raise RpcUsageError(f"{self.name}: give message= or messages=, not both")
        sent = tuple(messages) if messages is not None else (() if message is None else (message,))
        self.replies.append(RpcReply(messages=sent, trailing_metadata=metadata_pairs(trailing_metadata)))
        return self

    then_respond = respond

    def fail(
        self, code: str, details: str = "", *, trailing_metadata: Metadata | None = None, pushback: float | None = None
    ) -> MethodRoute:
        """Answer with a failing status (a name, "INVALID_ARGUMENT"), `details` and trailing metadata;
        `pushback` (seconds) adds `grpc-retry-pushback-ms`."""
        if check_code(code) == "OK":
            raise RpcUsageError(f"{self.name}: fail() takes a failing code; answer OK with respond()")
        self.replies.append(RpcReply.failure(code, details, trailing_metadata=trailing_metadata, pushback=pushback))
        return self

    then_fail = fail

    def respond_sequence(self, replies: Iterable[object]) -> MethodRoute:
        """Answer these in turn (each an `RpcReply`, a message or a dict of its fields); the last one repeats."""
        built = [RpcReply.of(reply) for reply in replies]
        if not built:
            raise RpcUsageError(f"{self.name}: respond_sequence needs at least one reply")
        self.replies.extend(built)
        return self

    def fail_first(
        self, times: int, *, code: str = "UNAVAILABLE", details: str = "", trailing_metadata: Metadata | None = None,
        pushback: float | None = None,
    ) -> MethodRoute:  # fmt: skip
        """The next `times` calls fail with `code`; follow with `then_respond(...)`."""
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise RpcUsageError(f"{self.name}: fail_first needs times >= 1, got {times!r}")
        for _ in range(times):
            self.fail(code, details, trailing_metadata=trailing_metadata, pushback=pushback)
        return self

    def respond_each(self, callback: Callable[[object], object], *, trailing_metadata: Metadata | None = None) -> MethodRoute:
        """Answer a bidirectional stream as it goes: `callback(request)` gives the message(s) for each
        request as it arrives (a message, a dict, a list of them, or None for no answer); then OK."""
        if not callable(callback):
            raise RpcUsageError(f"{self.name}: respond_each needs a callable, got {callback!r}")
        self.replies.append(RpcReply(each=callback, trailing_metadata=metadata_pairs(trailing_metadata)))
        return self

    def respond_with(self, callback: ReplyCallback) -> MethodRoute:
        """Compute the answer from the call (`RpcCall`: `.request`, `.requests`, `.metadata`): a message,
        a dict of its fields or an `RpcReply`."""
        if not callable(callback):
            raise RpcUsageError(f"{self.name}: respond_with needs a callable, got {callback!r}")
        self.replies.append(callback)
        return self

    # -- its rules -------------------------------------------------------------------------------
    def inject(self, *faults: Fault | str) -> MethodRoute:
        """Faults for this method's calls (from `pytest_ipc.faults`, or their names), in the order given."""
        self.faults.extend(self._arm(fault) for fault in faults)
        return self

    def in_state(self, scenario: Scenario, state: str, *, then: str | None = None) -> MethodRoute:
        """Match only while `scenario` is in `state`; after answering, move it to `then`."""
        self.scenario = scenario
        self.scenario_state = scenario.check(state)
        self.next_state = None if then is None else scenario.check(then)
        return self

    # -- serving (on the transport's threads) ----------------------------------------------------
    def miss(self, call: RpcCall, as_dict: AsDict) -> tuple[int, str] | None:
        """None when the route takes `call`, else (how far it got, why not): the unmatched report quotes it."""
        if call.method != self.method:
            return 0, f"method {call.method} is not {self.method}"
        for key, expected in self.metadata.items():
            if key not in call.metadata:
                return 1, f"metadata {key!r} missing (expected {describe_expected(expected)})"
            if not value_matches(expected, call.metadata[key]):
                return 1, f"metadata {key!r} is {call.metadata[key]!r}, expected {describe_expected(expected)}"
        if self.request is not NOT_GIVEN:
            reason = self._request_miss(call.request, as_dict)
            if reason is not None:
                return 2, reason
        if self.scenario is not None and self.scenario.state != self.scenario_state:
            return 3, f"scenario {self.scenario.name!r} is in state {self.scenario.state!r}, route needs {self.scenario_state!r}"
        return None

    def _request_miss(self, message: object, as_dict: AsDict) -> str | None:
        if callable(self.request) and not isinstance(self.request, re.Pattern):
            return None if self.request(message) else f"request {message!r} fails {describe_expected(self.request)}"
        reason = json_mismatch(self.request, as_dict(message), "request")
        return reason

    def answers_each(self) -> bool:
        """Whether the next reply answers request by request (`respond_each`)."""
        with self._lock:
            upcoming = self.replies[min(self.served, len(self.replies) - 1)] if self.replies else None
        return isinstance(upcoming, RpcReply) and upcoming.each is not None

    def answer(self, call: RpcCall) -> RpcReply:
        """The next reply in the sequence (a callback computes its own); moves the scenario on."""
        with self._lock:
            if self.next_state is not None and self.scenario is not None:
                self.scenario.move_to(self.next_state)
            if not self.replies:
                return RpcReply()
            source = self.replies[min(self.served, len(self.replies) - 1)]
            self.served += 1
        return source if isinstance(source, RpcReply) else RpcReply.of(source(call))
