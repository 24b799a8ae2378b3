"""A session's broker: where it is, which backend runs it, and the crash controls tests need.

A backend (external, container, local) starts a broker and hands back a `BrokerRuntime`; the fixture
wraps it in a `BrokerServer`, which gives tests context managers that always bring the broker back,
and hands out one isolated `IsolatedBroker` per test.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.handles import IsolatedBroker, Isolation, ProxyFactory


class BrokerRuntime(Protocol):
    """A started broker as a backend provides it.

    `stop_broker` is a graceful shutdown (the broker writes what it persists), `kill_broker` a
    SIGKILL-like crash, `start_broker` brings it back on the same ports with the same data and
    returns once it serves again.
    """

    kind: BrokerKind

    @property
    def endpoint(self) -> BrokerEndpoint: ...

    def isolation(self) -> Isolation: ...

    def stop_broker(self) -> None: ...

    def kill_broker(self) -> None: ...

    def start_broker(self) -> None: ...


class BrokerServer:
    """One broker for the whole session (per xdist worker); tests get `isolate()`d views of it."""

    def __init__(self, runtime: BrokerRuntime, backend: str, session_token: str) -> None:
        self.runtime = runtime
        self.kind: BrokerKind = runtime.kind
        self.backend = backend
        self._isolation = runtime.isolation()
        self._token = session_token
        self._counter = itertools.count(1)
        self.last_recovery_seconds: float | None = None

    @property
    def endpoint(self) -> BrokerEndpoint:
        return self.runtime.endpoint

    @property
    def url(self) -> str:
        return self.endpoint.url

    def isolate(self, proxy_factory: ProxyFactory | None = None) -> IsolatedBroker:
        """A view with a fresh namespace (vhost, key prefix, subject prefix, topic root): `open()` it
        to make it usable on the broker, `close()` it to remove it and everything in it."""
        namespace = f"ipc_{self._token}_{next(self._counter)}"
        return IsolatedBroker(self, self._isolation, namespace, proxy_factory)

    def close(self) -> None:
        """Release what isolation holds for the session (RabbitMQ's vhosts); before the broker stops."""
        self._isolation.shutdown()

    @contextmanager
    def stopped(self) -> Iterator[BrokerServer]:
        """The broker is shut down gracefully inside the block and started again after it."""
        self.runtime.stop_broker()
        try:
            yield self
        finally:
            self._start_again()

    @contextmanager
    def killed(self) -> Iterator[BrokerServer]:
        """The broker is killed (SIGKILL: no goodbye to clients, no final flush) inside the block.

        As in a real crash, what the broker had not yet written to disk is lost: RabbitMQ, for one,
        does not sync each definition (Mnesia's log), so a queue declared a moment before the kill
        may be gone after it; messages it confirmed as persistent are on disk."""
        self.runtime.kill_broker()
        try:
            yield self
        finally:
            self._start_again()

    def restart(self) -> float:
        """Stop gracefully and start again; returns the seconds until it served again."""
        self.runtime.stop_broker()
        return self._start_again()

    def _start_again(self) -> float:
        started = time.monotonic()
        self.runtime.start_broker()
        self.last_recovery_seconds = time.monotonic() - started
        return self.last_recovery_seconds

    def __repr__(self) -> str:
        return f"BrokerServer({self.kind!r}, backend={self.backend!r}, {self.endpoint.host}:{self.endpoint.port})"
