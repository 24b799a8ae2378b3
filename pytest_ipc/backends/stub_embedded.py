"""The ``embedded`` backend of the HTTP stub: `HttpStub`'s own server, inside the test process.

It starts in milliseconds, serves every feature of the stub (hangs, probabilities, callbacks,
auth...) and gives each test a port of its own.
"""

from __future__ import annotations

from pytest_ipc._net import LOOPBACK
from pytest_ipc.stub.server import HttpStub


class EmbeddedStubBackend:
    """A stub listening on `host`:`port` (port 0: a new free port for each test)."""

    name = "embedded"

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        self.host = host
        self.port = port
        self._stub: HttpStub | None = None

    def unavailable_reason(self) -> str | None:
        return None  # pure Python, always here

    def start(self) -> HttpStub:
        self._stub = HttpStub(self.host, self.port).start()
        return self._stub

    def stop(self) -> None:
        if self._stub is not None:
            self._stub.stop()
            self._stub = None
