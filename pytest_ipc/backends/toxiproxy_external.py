"""The ``external`` backend of the fault proxy: a Toxiproxy API the user already runs (a CI service,
a shared server). Nothing is started or stopped here; the start checks that the URL answers like a
Toxiproxy, and a URL that does not is an error, never a fallback to another backend.
"""

from __future__ import annotations

from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer
from pytest_ipc.client.errors import ToxiproxyError


class ExternalToxiproxyBackend:
    """The Toxiproxy at `url`; `where` names the setting it came from, for messages."""

    name = "external"

    def __init__(self, url: str | None, where: str, timeout: float = 5.0) -> None:
        self.url = url
        self.where = where
        self.timeout = timeout
        self._client: ToxiproxyClient | None = None

    def unavailable_reason(self) -> str | None:
        return None if self.url else f"no URL given ({self.where})"

    def start(self) -> ToxiproxyServer:
        if not self.url:
            raise ToxiproxyError(f"external Toxiproxy: {self.unavailable_reason()}")
        client = ToxiproxyClient(self.url, timeout=self.timeout)
        try:
            client.version()
        except ToxiproxyError as error:
            client.close()
            raise ToxiproxyError(
                f"the external Toxiproxy at {self.url} (from {self.where}) does not answer GET /version like a "
                f"Toxiproxy: {error}; start it, or correct the URL"
            ) from error
        self._client = client
        return ToxiproxyServer(client.url, client, self.name)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
