"""The ``embedded`` backend of the fault proxy: pytest-ipc's own Toxiproxy-compatible server, inside
the test process.

It starts in milliseconds on a kernel-chosen loopback port, so every xdist worker gets its own.
The server's modules are imported on start only: sessions that never use the fault proxy don't
pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_ipc._net import LOOPBACK
from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer

if TYPE_CHECKING:
    from pytest_ipc.toxiproxy import EmbeddedToxiproxy


class EmbeddedToxiproxyBackend:
    """Our server on `host`, on a port the kernel picks."""

    name = "embedded"

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self._server: EmbeddedToxiproxy | None = None
        self._client: ToxiproxyClient | None = None

    def unavailable_reason(self) -> str | None:
        return None  # pure Python, always here

    def start(self) -> ToxiproxyServer:
        from pytest_ipc.toxiproxy import EmbeddedToxiproxy

        self._server = EmbeddedToxiproxy(host=self.host, port=0).start()
        self._client = ToxiproxyClient(self._server.url)
        return ToxiproxyServer(self._server.url, self._client, self.name)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.stop()
            self._server = None
