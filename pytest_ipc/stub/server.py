"""`HttpStub`: a real HTTP/1.1 server on loopback whose routes, faults and journal a test sets up.

The server (h11 over asyncio, on its own `LoopThread`) starts once and serves a whole session. Each
test gets a port of its own (`begin_test`/`end_test`, which the `http_stub` fixture calls): when a
test ends, every connection it opened is closed, its requests still waiting are cancelled, and its
port stays open a while to answer what its clients still send with 503, recorded in
`late_requests` under that test's name, never in a later test's journal. `reset()` drops what a test
configured without changing the port.

Routes are tried in the order they were added; the first that matches answers. A request no route
takes gets 404 and is kept as *unmatched*, with why its closest routes said no.
"""

from __future__ import annotations

import asyncio
import re
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Iterable, Mapping
from functools import partial
from types import TracebackType

from .._http import DEFAULT_LIMITS, Exchange, HttpServer, Limits, Listener, Request, Response, plain_error
from .._loop import LoopThread
from .._net import LOOPBACK
from .auth import Auth, BasicAuth, BearerAuth
from ..faults.layers.stub import ArmedFault, arm
from ..faults.vocabulary import Fault
from .journal import Journal, JournalEntry
from .matchers import NOT_GIVEN, Expected, Miss, PathTemplate, QueryExpected, RequestMatcher
from .request import StubRequest
from .responses import JsonTransform
from .routes import Route
from .scenarios import Scenario

CLOSEST_MISSES_SHOWN = 3
#: Ports of ended tests kept open to answer late requests (one descriptor each; older ones close).
ENDED_PORTS_KEPT = 8


class HttpStub:
    """An embedded HTTP stub server; use as a context manager or `start()`/`stop()`.

    What a test configures lives in the attributes below, all cleared by `reset()`. `json_transform`
    is applied to every JSON response body before it is sent (e.g. to add fields a tolerant reader
    must ignore); None sends bodies as configured.

    `limits` bounds what clients may make it hold (see `Limits`); `allowed_hosts` are the names,
    besides IP literals and localhost, that a Host header may give (a container reaching the stub
    by an alias needs that alias here). A fixed `port` cannot move between tests: then one port
    serves every test, connections still close at each test's end, but a late request cannot be
    told from the next test's.
    """

    routes: list[Route]
    faults: list[ArmedFault]
    auth: Auth | None
    scenarios: dict[str, Scenario]
    json_transform: JsonTransform | None
    unmatched_allowed: bool

    def __init__(
        self, host: str = LOOPBACK, port: int = 0, *, limits: Limits = DEFAULT_LIMITS, allowed_hosts: Iterable[str] = ()
    ) -> None:
        self._server = HttpServer(
            self._handle, host=host, port=port, limits=limits, allowed_hosts=allowed_hosts, on_error=self._bad_request
        )
        self._loop: LoopThread | None = None
        self._handling: set[asyncio.Task[object]] = set()
        self._moves_port = port == 0
        self._listener: Listener | None = None  # the current test's port
        self._ended_ports: deque[Listener] = deque()
        self.test: str | None = None  # the node id of the test being served, between begin_test and end_test
        self.journal = Journal()
        self.late_requests: list[JournalEntry] = []  # arrived at an ended test's port; kept for the session
        self.bad_requests: list[str] = []  # requests the HTTP layer refused (garbage, oversize, foreign Host)
        self._clear()

    def _clear(self) -> None:
        self.routes = []
        self.faults = []
        self.auth = None
        self.scenarios = {}
        self.json_transform = None
        self.unmatched_allowed = False
        self.journal.clear()
        self.bad_requests.clear()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> HttpStub:
        if self._loop is not None:
            raise RuntimeError("the stub is already running")
        loop = LoopThread("pytest-ipc-http-stub").start()
        try:
            loop.run(self._server.start())
        except BaseException:
            loop.stop()
            raise
        self._listener = self._server.listener
        self._loop = loop
        return self

    def stop(self) -> None:
        """Close the listener and every connection, hung ones included, and end the loop thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._server.stop())
        finally:
            loop.stop()
            self._listener = None
            self._ended_ports.clear()

    def __enter__(self) -> HttpStub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget routes, scenarios, faults, auth, the transform and the journal; cancel requests in flight."""
        self._running_loop().run(self._reset())

    async def _reset(self) -> None:
        pending = list(self._handling)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._clear()

    def begin_test(self, test: str) -> None:
        """Serve `test` (a node id) from here on, clean, on a port no earlier test used.

        `end_test` already opened that port and cleared the stub, so this costs no trip to the loop
        unless the stub was used since (or the last test was not ended).
        """
        if self.test is not None:
            self.end_test()
        elif not self._is_clean():
            self.reset()
        self.test = test

    def end_test(self) -> None:
        """End the current test: close its connections, cancel its requests still waiting, leave its port
        answering 503 (`late_requests`), move to the next test's port and forget the configuration."""
        self._running_loop().run(self._end_test())

    async def _end_test(self) -> None:
        test, self.test = self.test, None
        ended = self._current()
        if self._moves_port:  # the next test's port opens in this same trip to the loop
            self._listener = await self._server.listen()
            ended.handler = partial(self._late, test)
            self._ended_ports.append(ended)
            while len(self._ended_ports) > ENDED_PORTS_KEPT:
                self._ended_ports.popleft().stop_listening()
        await ended.close_connections()
        await self._reset()

    def _is_clean(self) -> bool:
        return not (
            self.routes or self.faults or self.auth or self.scenarios or self.json_transform or self.unmatched_allowed
            or self.journal.entries or self.bad_requests or self._handling
        )

    def _current(self) -> Listener:
        if self._listener is None:
            raise RuntimeError("the stub is not running; call start() or use it as a context manager")
        return self._listener

    def _running_loop(self) -> LoopThread:
        if self._loop is None:
            raise RuntimeError("the stub is not running; call start() or use it as a context manager")
        return self._loop

    # -- addresses -------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._current().address[0]

    @property
    def port(self) -> int:
        """The current test's port (a new one for each test: see `begin_test`)."""
        return self._current().address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url_for(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"url_for needs a path starting with '/', got {path!r}")
        return self.url + path

    # -- setting up ------------------------------------------------------------------------------
    def expect(
        self,
        method: str,
        path: str | re.Pattern[str] | PathTemplate,
        *,
        query: Mapping[str, QueryExpected] | None = None,
        headers: Mapping[str, Expected] | None = None,
        json: object = NOT_GIVEN,
        body: bytes | str | None = None,
        accept: str | None = None,
        name: str | None = None,
    ) -> Route:
        """Add a route. `path` may hold `{name}` placeholders or be an `re.Pattern`; `json` matches
        partially; `accept` matches a media type the Accept header lists (media-type versioning)."""
        template = path if isinstance(path, PathTemplate) else PathTemplate(path)
        matcher = RequestMatcher(method, template, query, headers, json, body, accept)
        label = name or f"{matcher.method} {template.text}" + (f" ({accept})" if accept else "")
        route = Route(matcher, label)
        self.routes.append(route)
        return route

    def require_bearer(self, token: str) -> None:
        """Every request must carry this bearer token (401 without one, 403 with another)."""
        self.auth = BearerAuth(token)

    def require_basic(self, user: str, password: str) -> None:
        """Every request must carry these basic credentials (401 without, 403 with others)."""
        self.auth = BasicAuth(user, password)

    def inject(self, *faults: Fault | str) -> None:
        """Faults (from `pytest_ipc.faults`, or their names) for every request, before the route's own."""
        self.faults.extend(arm(fault) for fault in faults)

    def scenario(self, name: str, initial: str = "started", states: Iterable[str] | None = None) -> Scenario:
        """The scenario called `name`, created on first use."""
        existing = self.scenarios.get(name)
        if existing is not None:
            if existing.initial != initial or (states is not None and tuple(states) != existing.states):
                raise ValueError(f"scenario {name!r} already exists with initial={existing.initial!r}, states={existing.states}")
            return existing
        created = self.scenarios[name] = Scenario(name, initial, states)
        return created

    def allow_unmatched(self) -> None:
        """Do not fail this test for requests no route matched (the fixture checks at teardown)."""
        self.unmatched_allowed = True

    # -- looking at what happened ----------------------------------------------------------------
    @property
    def max_in_flight(self) -> int:
        """The most requests the stub was handling at once since the last reset."""
        return self.journal.max_in_flight

    def calls(self, route: Route | str | None = None) -> list[JournalEntry]:
        """Journal entries for `route` (a Route or its name), or all of them."""
        return self.journal.snapshot() if route is None else self.journal.calls(self._route(route))

    def assert_called(self, route: Route | str, times: int | None = None) -> None:
        self.journal.assert_called(self._route(route), times)

    def assert_not_called(self, route: Route | str) -> None:
        self.journal.assert_called(self._route(route), 0)

    def assert_called_in_order(self, routes: Iterable[Route | str]) -> None:
        self.journal.assert_called_in_order([self._route(route) for route in routes])

    def unmatched(self) -> list[JournalEntry]:
        return self.journal.unmatched()

    def problems_report(self) -> str | None:
        """Unmatched requests (unless allowed) and errors in user callbacks, readably; None if none."""
        lines: list[str] = []
        unmatched = [] if self.unmatched_allowed else self.unmatched()
        if unmatched:
            lines.append(f"http_stub: {len(unmatched)} request(s) matched no route:")
            for entry in unmatched:
                lines.append(f"  {entry.request.describe()}")
                lines += [f"      closest: {miss}" for miss in entry.closest_misses]
            lines.append("(allow them with http_stub.allow_unmatched() or @pytest.mark.http_stub_allow_unmatched)")
        failed = [entry for entry in self.journal.snapshot() if entry.error]
        for entry in failed:
            lines.append(f"http_stub: answering {entry.request.describe()} raised:\n{entry.error}")
        return "\n".join(lines) or None

    def _route(self, route: Route | str) -> Route:
        if isinstance(route, Route):
            return route
        named = [candidate for candidate in self.routes if candidate.name == route]
        if len(named) != 1:
            problem = "no route" if not named else f"{len(named)} routes"
            known = ", ".join(repr(candidate.name) for candidate in self.routes) or "(none)"
            raise ValueError(f"{problem} named {route!r}; routes: {known}")
        return named[0]

    # -- serving (on the loop thread) ------------------------------------------------------------
    def _handle(self, request: Request, exchange: Exchange) -> Response | Awaitable[Response | None]:
        """Answer at once unless a fault is attached; faults may wait or take the connection over."""
        stub_request = StubRequest.from_core(request)
        entry = self.journal.begin(stub_request, self.test)
        response = self._answer(stub_request, entry)
        route_faults = entry.route.faults if entry.route is not None else []
        if not (self.faults or route_faults):
            entry.status = response.status
            self.journal.finish(entry, time.monotonic())
            return response
        return self._apply_faults(response, self.faults + route_faults, entry, exchange)

    async def _apply_faults(
        self, response: Response, faults: list[ArmedFault], entry: JournalEntry, exchange: Exchange
    ) -> Response | None:
        task = asyncio.current_task()
        assert task is not None
        self._handling.add(task)
        answer: Response | None = response
        try:
            for armed in faults:
                if answer is None:
                    break
                if armed.fires():
                    entry.faults.append(armed.fault.name)
                    answer = await armed.apply(answer, exchange)
            entry.status = None if answer is None else answer.status
            return answer
        finally:
            self._handling.discard(task)
            self.journal.finish(entry, time.monotonic())

    def _answer(self, request: StubRequest, entry: JournalEntry) -> Response:
        if self.auth is not None:
            denied = self.auth.check(request)
            if denied is not None:
                return denied
        misses: list[tuple[Miss, Route]] = []
        for route in self.routes:
            result = route.matcher.check(request)
            if not isinstance(result, Miss):
                state_problem = route.scenario_mismatch()
                if state_problem is None:
                    request.params = result
                    entry.route = route
                    return self._route_answer(route, request, entry)
                result = Miss(7, state_problem)
            misses.append((result, route))
        misses.sort(key=lambda pair: -pair[0].stage)
        entry.unmatched = True
        entry.closest_misses = [f"{route.name}: {miss.reason}" for miss, route in misses[:CLOSEST_MISSES_SHOWN]]
        text = "\n".join([f"no stub route matches {request.describe()}", *entry.closest_misses])
        return plain_error(404, text)

    def _route_answer(self, route: Route, request: StubRequest, entry: JournalEntry) -> Response:
        try:
            return route.answer(request, self.json_transform)
        except Exception:  # a user callback or transform failed: answer 500, fail the test at teardown
            entry.error = traceback.format_exc()
            return plain_error(500, f"stub route {route.name} raised; see the test's teardown report")

    def _late(self, test: str | None, request: Request, _exchange: Exchange) -> Response:
        """Answer a request that reached the port of a test that has ended, and keep it as that test's."""
        entry = JournalEntry(StubRequest.from_core(request), request.received_at, time.monotonic(), status=503, test=test)
        self.late_requests.append(entry)
        owner = test or "no test (the stub was used outside the http_stub fixture)"
        text = (
            f"pytest-ipc http stub: this port served {owner}, which has ended; a request arriving after its test "
            f"is refused and reported as that test's late request"
        )
        response = plain_error(503, text)
        response.headers.append(("connection", "close"))
        return response

    def _bad_request(self, status: int, message: str) -> Response:
        self.bad_requests.append(message)
        return plain_error(status, f"pytest-ipc http stub: {message}")
