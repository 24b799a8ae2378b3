"""`EmbeddedServer`: serves an `HttpStub` from this process, h11 over asyncio on its own `LoopThread`.

It reads the stub's definitions live (nothing to publish) and writes the journal as requests
arrive. Each test gets a port of its own: `end_test` opens the next one in the same trip to the
loop, closes the ended test's connections and leaves its port answering 503 for a while, recording
those late requests as the ended test's. Faults are performed here, on the wire, by the stub layer
of `pytest_ipc.faults`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from pytest_ipc._http import DEFAULT_LIMITS, Exchange, HttpServer, Limits, Listener, Request, Response, plain_error
from pytest_ipc._loop import LoopThread
from pytest_ipc._net import LOOPBACK
from pytest_ipc.stub.attached import AttachedServer
from pytest_ipc.stub.journal import JournalEntry
from pytest_ipc.stub.request import StubRequest

if TYPE_CHECKING:
    from pytest_ipc.faults.layers.stub import ArmedFault

#: Ports of ended tests kept open to answer late requests (one descriptor each; older ones close).
ENDED_PORTS_KEPT = 8
NOT_RUNNING = "the stub is not running; call start() or use it as a context manager"


class EmbeddedServer(AttachedServer):
    """The stub's own HTTP/1.1 server (HTTPS with `tls`); port 0 moves to a new port for each test."""

    name = "embedded"

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        limits: Limits = DEFAULT_LIMITS,
        allowed_hosts: Iterable[str] = (),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._http = HttpServer(
            self._handle, host=host, port=port, limits=limits, allowed_hosts=allowed_hosts, on_error=self._bad_request, tls=tls
        )
        self._loop: LoopThread | None = None
        self._handling: set[asyncio.Task[object]] = set()
        self._moves_port = port == 0
        self.next_port = 0  # the port `end_test` moves to (0: a free one); a stub group moves its instances together
        self._listener: Listener | None = None  # the current test's port
        self._ended_ports: deque[Listener] = deque()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("the stub is already running")
        loop = LoopThread("pytest-ipc-http-stub").start()
        try:
            loop.run(self._http.start())
        except BaseException:
            loop.stop()
            raise
        self._listener = self._http.listener
        self._loop = loop

    def stop(self) -> None:
        """Close the listener and every connection, hung ones included, and end the loop thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._http.stop())
        finally:
            loop.stop()
            self._listener = None
            self._ended_ports.clear()

    def reset(self, forget: Callable[[], None]) -> None:
        self._running_loop().run(self._reset(forget))

    async def _reset(self, forget: Callable[[], None]) -> None:
        pending = list(self._handling)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        forget()

    def end_test(self, forget: Callable[[], None]) -> None:
        self._running_loop().run(self._end_test(forget))

    async def _end_test(self, forget: Callable[[], None]) -> None:
        stub = self._stub
        ended = self._current()
        following = await self._http.listen(self.next_port) if self._moves_port else None  # first: a refused port changes nothing
        test, stub.test = stub.test, None
        if following is not None:  # the next test's port opens in this same trip to the loop
            self._listener = following
            ended.handler = partial(self._late, test)
            self._ended_ports.append(ended)
            while len(self._ended_ports) > ENDED_PORTS_KEPT:
                self._ended_ports.popleft().stop_listening()
        await ended.close_connections()
        await self._reset(forget)

    def allow_host(self, name: str) -> None:
        """Accept `name` in Host headers (a service name the stub is reached by, given after it started)."""
        self._http.allow_host(name)

    @property
    def idle(self) -> bool:
        return not self._handling

    @property
    def address(self) -> tuple[str, int]:
        return self._current().address

    def publish(self) -> None:
        """Nothing to do: requests read the stub's definitions as they arrive."""

    def refresh(self) -> None:
        """The journal is written as requests arrive, but a request's faults are decided by the task
        that applies them, a step later: one trip through the loop, so that every request in the
        journal has its faults counted (a test that saw the request arrive and left the fault's
        block at once was told the fault never fired)."""
        if self._loop is not None:
            self._loop.settle()

    def _current(self) -> Listener:
        if self._listener is None:
            raise RuntimeError(NOT_RUNNING)
        return self._listener

    def _running_loop(self) -> LoopThread:
        if self._loop is None:
            raise RuntimeError(NOT_RUNNING)
        return self._loop

    # -- serving (on the loop thread) ------------------------------------------------------------
    def _handle(self, request: Request, exchange: Exchange) -> Response | Awaitable[Response | None]:
        """Answer at once unless a fault is attached; faults may wait or take the connection over."""
        stub = self._stub
        stub_request = StubRequest.from_core(request)
        entry = stub.journal.begin(JournalEntry(stub_request, stub_request.received_at, test=stub.test))
        response = stub.answer(stub_request, entry)
        route_faults = entry.route.faults if entry.route is not None else []
        if not (stub.faults or route_faults):
            entry.status = response.status
            stub.journal.finish(entry, time.monotonic())
            return response
        return self._apply_faults(response, stub.faults + route_faults, entry, exchange)

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
            self._stub.journal.finish(entry, time.monotonic())

    def _late(self, test: str | None, request: Request, _exchange: Exchange) -> Response:
        """Answer a request that reached the port of a test that has ended, and keep it as that test's."""
        entry = JournalEntry(StubRequest.from_core(request), request.received_at, time.monotonic(), status=503, test=test)
        self._stub.late_requests.append(entry)
        owner = test or "no test (the stub was used outside the http_stub fixture)"
        text = (
            f"pytest-ipc http stub: this port served {owner}, which has ended; a request arriving after its test "
            f"is refused and reported as that test's late request"
        )
        response = plain_error(503, text)
        response.headers.append(("connection", "close"))
        return response

    def _bad_request(self, status: int, message: str) -> Response:
        self._stub.bad_requests.append(message)
        return plain_error(status, f"pytest-ipc http stub: {message}")
