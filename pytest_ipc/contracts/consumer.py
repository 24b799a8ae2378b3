"""Consumer side: one Pact per test, mock servers that stop with the test, pacts only from passes.

pact-python keeps a mock server alive until its handle is garbage collected, and a failed test's
traceback keeps it referenced; `ManagedPactServer.stop()` releases it at test end instead. Pact
files are recorded as per-test fragments and merged once at session end (`recorder.py`), so the cost
per test stays flat however many tests there are.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import respx
from pact import Pact
from pact.pact import PactServer

from pytest_ipc._net import LOOPBACK


class ManagedPactServer(PactServer):
    """A Pact mock server that respx lets through and that `stop()` really stops."""

    def __enter__(self) -> Self:
        super().__enter__()
        self._respx_routes = _let_respx_through(self.host, self.port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        finally:
            self.stop()

    def stop(self) -> None:
        """Close the port now: dropping the only handle makes pact-python clean the server up."""
        for router, name in getattr(self, "_respx_routes", []):
            router.routes.pop(name, None)
        self._respx_routes = []
        self._handle = None


class ManagedPact(Pact):
    """A `pact.Pact` whose `serve()` binds to loopback and whose servers the fixture stops."""

    def __init__(self, consumer: str, provider: str) -> None:
        super().__init__(consumer, provider)
        self.servers: list[ManagedPactServer] = []

    def serve(
        self,
        addr: str = LOOPBACK,
        port: int = 0,
        transport: str = "http",
        transport_config: str | None = None,
        *,
        raises: bool = True,
        verbose: bool = True,
    ) -> ManagedPactServer:
        server = ManagedPactServer(
            self._handle, addr, port, transport, transport_config, raises=raises, verbose=verbose
        )
        self.servers.append(server)
        return server

    def stop_servers(self) -> None:
        for server in self.servers:
            server.stop()


def _let_respx_through(host: str, port: int | None) -> list[tuple[respx.Router, str]]:
    """Add a pass-through route for the mock server to every started respx router.

    Without it respx answers the client's calls itself (or refuses them) and the Pact mock server
    never sees them. The routes are named so `stop()` removes them again before respx checks that
    all its routes were called.
    """
    added: list[tuple[respx.Router, str]] = []
    name = f"pytest-ipc-pact-{host}-{port}"
    for mocker in respx.mocks.Mocker.registry.values():
        for router in mocker.routers:
            router.route(name=name, host=host, port=port).pass_through()
            added.append((router, name))
    return added
