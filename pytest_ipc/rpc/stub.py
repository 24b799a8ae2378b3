"""`RpcStub`: the transport-independent half of an RPC stub (definitions, journal, faults, test lifecycle).

A transport (gRPC: `pytest_ipc.rpc.grpc_server`) subclasses it, names itself in `transport` (also the
name of its fault layer) and serves calls with four steps, from any thread::

    call = stub.begin_call(method, metadata, deadline)   # journal entry; in flight from here
    plan = stub.plan(call)                                # route, reply and faults, decided at once
    if stub.wait(call, plan):                             # latency; a hang waits for the client
        ...send plan.reply (messages, then status)...
    stub.finish_call(call, code, details, responses)      # or stub.cancelled(call)

`release(call)` (the transport calls it when the client cancels or its deadline passes) ends a wait
early. A call's wait also ends when the test ends, so no handler outlives it. See docs/internals/rpc-core.md.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from typing import ClassVar

from pytest_ipc.faults.layers.rpc import Plan, RpcArmedFault, RpcLayer
from pytest_ipc.faults.vocabulary import Fault
from pytest_ipc.rpc.codes import check_code
from pytest_ipc.rpc.errors import RpcUsageError
from pytest_ipc.rpc.journal import RpcCall, RpcJournal
from pytest_ipc.rpc.methods import MethodRoute
from pytest_ipc.rpc.replies import RpcReply
from pytest_ipc.stub.matchers import NOT_GIVEN, Expected
from pytest_ipc.stub.scenarios import Scenario, scenario_in

CLOSEST_MISSES_SHOWN = 3


class RpcStub:
    """Routes, stub-wide faults, scenarios and the journal of an RPC stub; transports subclass it.

    A subclass sets `transport` and implements `resolve` (a method name as users write it -> the full
    name calls carry), `as_dict` (a request message -> a dict, for request matching), `host`/`port`
    and `start`/`stop`.
    """

    transport: ClassVar[str] = "rpc"
    layer: ClassVar[RpcLayer]

    def __init__(self) -> None:
        self.test: str | None = None
        self.journal = RpcJournal()
        self.late_calls: list[RpcCall] = []  # arrived between two tests; kept for the session
        self._between_tests = False
        self._lock = threading.Lock()  # decisions: routes, sequences and scenarios move together
        self._waiting: dict[int, threading.Event] = {}  # id(call) -> its wake-up, while it waits
        self._clear()

    def _clear(self) -> None:
        self.routes: list[MethodRoute] = []
        self.faults: list[RpcArmedFault] = []
        self.scenarios: dict[str, Scenario] = {}
        self.unmatched_allowed = False
        self.unmatched_reply = RpcReply.failure("UNIMPLEMENTED", "no stub route matches this call")
        self.journal.clear()

    # -- what a transport provides ---------------------------------------------------------------
    def resolve(self, method: str) -> str:
        """The full method name ("/pkg.Service/Method") for `method` as a user writes it."""
        raise NotImplementedError

    def as_dict(self, message: object) -> object:
        """A request message as a dict of its fields (what `request=` matches against)."""
        return message

    @property
    def host(self) -> str:
        raise NotImplementedError

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def target(self) -> str:
        """Where clients connect: "host:port"."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    # -- setting up ------------------------------------------------------------------------------
    def expect(
        self, method: str, *, metadata: Mapping[str, Expected] | None = None, request: object = NOT_GIVEN, name: str | None = None
    ) -> MethodRoute:
        """Add a route for `method` ("Service/Method", full or short service name); `metadata` values
        match like HTTP headers (str, `re.Pattern`, predicate); `request` matches the request message
        partially (a dict of its fields) or is a predicate on it."""
        full = self.resolve(method)
        route = MethodRoute(full, name or full.lstrip("/"), metadata=metadata, request=request, arm=self.layer.arm)
        self.routes.append(route)
        return route

    def inject(self, *faults: Fault | str) -> None:
        """Faults (from `pytest_ipc.faults`, or their names) for every call, before the route's own."""
        self.faults.extend(self.layer.arm(fault) for fault in faults)

    def scenario(self, name: str, initial: str = "started", states: Iterable[str] | None = None) -> Scenario:
        """The scenario called `name`, created on first use (the HTTP stub's `Scenario`)."""
        return scenario_in(self.scenarios, name, initial, states)

    def answer_unmatched(self, code: str = "UNIMPLEMENTED", details: str = "no stub route matches this call") -> None:
        """How calls no route takes are answered (they are still reported at teardown)."""
        if check_code(code) == "OK":
            raise RpcUsageError("unmatched calls are answered with a failing code, not OK")
        self.unmatched_reply = RpcReply.failure(code, details)

    def allow_unmatched(self) -> None:
        """Do not fail this test for calls no route matched (the fixture checks at teardown)."""
        self.unmatched_allowed = True

    # -- the test lifecycle ----------------------------------------------------------------------
    def begin_test(self, test: str) -> None:
        """Serve `test` (a node id) from here on, clean."""
        if self.test is not None:
            self.end_test()
        self.reset()
        self.test = test
        self._between_tests = False

    def end_test(self) -> None:
        """End the current test: wake its waiting calls (a hang ends with CANCELLED) and forget its configuration."""
        self.test = None
        self._between_tests = True
        self.reset()

    def reset(self) -> None:
        """Forget routes, faults, scenarios and the journal; calls still waiting end now."""
        with self._lock:
            for event in self._waiting.values():
                event.set()
            self._waiting.clear()
            self._clear()

    # -- looking at what happened ----------------------------------------------------------------
    def refresh(self) -> None:
        """The journal is live (the journal protocol's hook for servers that keep theirs remotely)."""

    @property
    def max_in_flight(self) -> int:
        """The most calls the stub was answering at once since the last reset."""
        return self.journal.max_in_flight

    def calls(self, route: MethodRoute | str | None = None) -> list[RpcCall]:
        """Journal entries for `route` (a route, its name or a method name), or all of them."""
        if route is None:
            return self.journal.snapshot()
        if isinstance(route, MethodRoute):
            return self.journal.calls(route)
        named = [candidate for candidate in self.routes if candidate.name == route]
        if len(named) == 1:
            return self.journal.calls(named[0])
        full = self.resolve(route)
        return [entry for entry in self.journal.snapshot() if entry.method == full]

    def assert_called(self, route: MethodRoute | str, times: int | None = None) -> None:
        """At least once, or exactly `times` times."""
        count = len(self.calls(route))
        if (times is None and count == 0) or (times is not None and count != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            label = route.name if isinstance(route, MethodRoute) else route
            raise AssertionError(f"{label} was expected to be called {wanted}, was called {count} time(s)\n{self.journal.render()}")

    def assert_not_called(self, route: MethodRoute | str) -> None:
        self.assert_called(route, 0)

    def unmatched(self) -> list[RpcCall]:
        return self.journal.unmatched()

    def problems_report(self) -> str | None:
        """Unmatched calls (unless allowed) and errors in user callbacks, readably; None if none."""
        lines: list[str] = []
        fixture = f"{self.transport}_stub"
        unmatched = [] if self.unmatched_allowed else self.unmatched()
        if unmatched:
            lines.append(f"{fixture}: {len(unmatched)} call(s) matched no route (answered {self.unmatched_reply.code}):")
            for entry in unmatched:
                shown = {key: value for key, value in entry.metadata.items() if key != "user-agent"}
                lines.append(f"  {entry.method}" + (f" metadata={shown}" if shown else ""))
                lines += [f"      closest: {miss}" for miss in entry.closest_misses]
            lines.append(f"(allow them with {fixture}.allow_unmatched() or @pytest.mark.{fixture}_allow_unmatched)")
        for entry in self.journal.snapshot():
            if entry.error:
                lines.append(f"{fixture}: answering {entry.method} raised:\n{entry.error}")
        return "\n".join(lines) or None

    # -- serving (the transport's threads call these) --------------------------------------------
    def begin_call(self, method: str, metadata: dict[str, str], deadline: float | None, requests: list[object] | None = None) -> RpcCall:
        """Record a call that arrived (in flight from now); `deadline` is the time the client had left."""
        call = RpcCall(method, metadata, time.monotonic(), deadline=deadline, requests=requests or [], test=self.test)
        if self._between_tests:
            self.late_calls.append(call)  # between tests: never in a test's journal
            return call
        return self.journal.begin(call)

    def plan(self, call: RpcCall) -> Plan:
        """Match `call`, take its route's next reply and apply the faults that fire (stub-wide first)."""
        with self._lock:
            route, closest = self._match(call)
            if route is None:
                call.unmatched = True
                call.closest_misses = closest
                plan = Plan(self.unmatched_reply)
                armed = list(self.faults)
            else:
                call.route = route
                try:
                    plan = Plan(route.answer(call))
                except Exception:  # a user callback failed: INTERNAL now, the test fails at teardown
                    call.error = traceback.format_exc()
                    plan = Plan(RpcReply.failure("INTERNAL", f"stub route {route.name} raised; see the test's teardown report"))
                armed = [*self.faults, *route.faults]
            for fault in armed:
                fault.apply(plan)
            call.faults = plan.faults
            if plan.delay > 0 or plan.hang:
                plan.wake = self._waiting[id(call)] = threading.Event()
        return plan

    def answers_each(self, call: RpcCall) -> bool:
        """Whether the route that takes `call` (as far as it has arrived) answers request by request:
        then the transport plans after the first request and answers each as it comes."""
        with self._lock:
            route, _ = self._match(call)
        return route is not None and route.answers_each()

    def _match(self, call: RpcCall) -> tuple[MethodRoute | None, list[str]]:
        misses: list[tuple[int, str]] = []
        for route in self.routes:
            miss = route.miss(call, self.as_dict)
            if miss is None:
                return route, []
            misses.append((miss[0], f"{route.name}: {miss[1]}"))
        misses.sort(key=lambda pair: -pair[0])
        if misses and misses[0][0] > 0:  # routes of the same method said why: the other methods' routes are noise
            misses = [miss for miss in misses if miss[0] > 0]
        return None, [reason for _, reason in misses[:CLOSEST_MISSES_SHOWN]]

    def wait(self, call: RpcCall, plan: Plan) -> bool:
        """Block for the plan's delay, or until released when it hangs; False when released early
        (the client gave up, or the test ended): then send nothing."""
        if plan.wake is None:
            return True
        try:
            released = plan.wake.wait(None if plan.hang else plan.delay)
            return not released and not plan.hang
        finally:
            self._waiting.pop(id(call), None)

    def release(self, call: RpcCall) -> None:
        """The client cancelled the call or its deadline passed: end its wait now."""
        event = self._waiting.get(id(call))
        if event is not None:
            event.set()

    def finish_call(self, call: RpcCall, code: str, details: str = "", responses: int = 0) -> None:
        """The status was sent (`responses` messages before it)."""
        call.code, call.details, call.responses = code, details, responses
        self.journal.finish(call, time.monotonic())

    def cancelled(self, call: RpcCall) -> None:
        """The call ended without a status from the stub (the client gave up, or the test ended)."""
        call.cancelled = True
        self.journal.finish(call, time.monotonic())
