"""A session's broker: where it is, which backend runs it, and the crash controls tests need.

A backend (external, container, local) starts a broker and hands back a `BrokerRuntime`; the fixture
wraps it in a `BrokerServer`, which gives tests context managers that always bring the broker back,
and hands out one isolated `IsolatedBroker` per test. `server.aio` holds the same controls as
coroutines for async tests.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Protocol, TypeVar

from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.handles import IsolatedBroker, Isolation, ProxyFactory
from pytest_ipc.brokers.tls import ListenerTls

T = TypeVar("T")


class BrokerRuntime(Protocol):
    """A started broker as a backend provides it.

    `stop_broker` is a graceful shutdown (the broker writes what it persists), `kill_broker` a
    SIGKILL-like crash, `start_broker` brings it back on the same ports with the same data and
    returns once it serves again.
    """

    kind: BrokerKind
    tls: ListenerTls | None  # its TLS listener's files (port: ``endpoint.extra_ports["tls"]``), None without

    @property
    def endpoint(self) -> BrokerEndpoint: ...

    def isolation(self) -> Isolation: ...

    def stop_broker(self) -> None: ...

    def kill_broker(self) -> None: ...

    def start_broker(self) -> None: ...


class BrokerServer:
    """One broker for the whole session (per xdist worker); tests get `isolate()`d views of it.

    Crash controls: `stopped()` and `killed()` bring the broker back when their block ends, and
    `restart()` does both in one call; `stop()`/`kill()` leave it down until `start()` (the next
    test's broker fixture starts it again if a test left it down). `aio` has the same controls as
    coroutines for async tests.
    """

    def __init__(self, runtime: BrokerRuntime, backend: str, session_token: str) -> None:
        self.runtime = runtime
        self.kind: BrokerKind = runtime.kind
        self.backend = backend
        self.running = True
        self.last_recovery: float | None = None
        """Seconds the last start took until the broker served again (None before any restart)."""
        self.aio = AsyncBrokerControls(self)
        self._isolation = runtime.isolation()
        self._token = session_token
        self._counter = itertools.count(1)
        self._control = threading.Lock()  # one control at a time, from threads and event loops alike

    @property
    def endpoint(self) -> BrokerEndpoint:
        """Where the broker listens, with the session's admin login."""
        return self.runtime.endpoint

    @property
    def url(self) -> str:
        """The main protocol's URL of the whole broker (tests use their handle's `url`)."""
        return self.endpoint.url

    @property
    def tls(self) -> ListenerTls | None:
        """The broker's TLS listener (``--ipc-<kind>-tls``), None when it has none; tests use their
        handle's `tls`."""
        return self.runtime.tls

    def isolate(self, proxy_factory: ProxyFactory | None = None) -> IsolatedBroker:
        """A view with a fresh namespace (vhost, key prefix, subject prefix, topic root): `open()` it
        to make it usable on the broker, `close()` it to remove it and everything in it."""
        namespace = f"ipc_{self._token}_{next(self._counter)}"
        return IsolatedBroker(self, self._isolation, namespace, proxy_factory)

    def close(self) -> None:
        """Release what isolation holds for the session (RabbitMQ's vhosts); before the broker stops."""
        self._isolation.shutdown()

    def stop(self) -> None:
        """Shut the broker down gracefully (it writes what it persists); it stays down until `start()`."""
        with self._control:
            if self.running:
                self.runtime.stop_broker()
                self.running = False

    def kill(self) -> None:
        """Kill the broker (SIGKILL: no goodbye to clients, no final flush); down until `start()`.

        As in a real crash, what the broker had not yet written to disk is lost: RabbitMQ, for one,
        does not sync each definition (Mnesia's log), so a queue declared a moment before the kill
        may be gone after it; messages it confirmed as persistent are on disk."""
        with self._control:
            if self.running:
                self.runtime.kill_broker()
                self.running = False

    def start(self) -> float:
        """Start a stopped or killed broker on the same ports with the same data; returns the
        seconds until it served again (0.0 if it was running)."""
        with self._control:
            if self.running:
                return 0.0
            started = time.monotonic()
            self.runtime.start_broker()
            self.running = True
            self.last_recovery = time.monotonic() - started
            return self.last_recovery

    def restart(self) -> float:
        """Stop gracefully and start again; returns the seconds until it served again."""
        self.stop()
        return self.start()

    @contextmanager
    def stopped(self) -> Iterator[BrokerServer]:
        """The broker is shut down gracefully inside the block and started again after it."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    @contextmanager
    def killed(self) -> Iterator[BrokerServer]:
        """The broker is killed (see `kill()`) inside the block and started again after it."""
        self.kill()
        try:
            yield self
        finally:
            self.start()

    def __repr__(self) -> str:
        return f"BrokerServer({self.kind!r}, backend={self.backend!r}, {self.endpoint.host}:{self.endpoint.port})"


class AsyncBrokerControls:
    """`server.aio`: the crash controls of a `BrokerServer` as coroutines, same names.

    The blocking work (a RabbitMQ boot takes seconds) runs in a worker thread, so the event loop keeps
    serving the test's own clients meanwhile (a consumer that must notice the restart and reconnect).
    Works under pytest-asyncio and anyio (asyncio or trio). A cancelled caller still waits for the
    control under way, and a block's broker is started again even when the block is cancelled.
    """

    def __init__(self, server: BrokerServer) -> None:
        self._server = server

    async def stop(self) -> None:
        """`BrokerServer.stop`, awaited."""
        await _to_thread(self._server.stop)

    async def kill(self) -> None:
        """`BrokerServer.kill`, awaited."""
        await _to_thread(self._server.kill)

    async def start(self) -> float:
        """`BrokerServer.start`, awaited; the seconds until it served again."""
        return await _to_thread(self._server.start)

    async def restart(self) -> float:
        """`BrokerServer.restart`, awaited; the seconds until it served again."""
        return await _to_thread(self._server.restart)

    @asynccontextmanager
    async def stopped(self) -> AsyncIterator[BrokerServer]:
        """`BrokerServer.stopped` as an async context manager."""
        await self.stop()
        try:
            yield self._server
        finally:
            with _shielded():
                await self.start()

    @asynccontextmanager
    async def killed(self) -> AsyncIterator[BrokerServer]:
        """`BrokerServer.killed` as an async context manager."""
        await self.kill()
        try:
            yield self._server
        finally:
            with _shielded():
                await self.start()


async def _to_thread(function: Callable[[], T]) -> T:
    """Run a blocking control in a worker thread; anyio is imported on the first async control
    (sessions that never await one do not pay for it)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function)


def _shielded() -> AbstractContextManager[object]:
    import anyio

    return anyio.CancelScope(shield=True)
