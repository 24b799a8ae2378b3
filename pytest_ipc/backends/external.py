"""The external backend: a Toxiproxy API the user already runs (a CI service, a shared server).

Nothing is started or stopped here; the backend only checks that the URL answers like a Toxiproxy.
"""

from __future__ import annotations

from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer
from pytest_ipc.client.errors import ToxiproxyError


class ExternalToxiproxyBackend:
    name = "external"

    def __init__(self, url: str | None, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: ToxiproxyClient | None = None

    def unavailable_reason(self) -> str | None:
        if not self.url:
            return "no URL given (--ipc-toxiproxy-url / PYTEST_IPC_TOXIPROXY_URL / ini ipc_toxiproxy_url)"
        with ToxiproxyClient(self.url, timeout=self.timeout) as client:
            try:
                client.version()
            except ToxiproxyError as error:
                return f"{self.url} does not answer GET /version like a Toxiproxy: {error}"
        return None

    def start(self) -> ToxiproxyServer:
        if not self.url:
            raise RuntimeError(f"external backend started without a URL: {self.unavailable_reason()}")
        self._client = ToxiproxyClient(self.url, timeout=self.timeout)
        return ToxiproxyServer(self._client.url, self._client, self.name)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
