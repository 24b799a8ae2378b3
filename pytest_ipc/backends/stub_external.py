"""The ``external`` backend of the HTTP stub: a WireMock 3 the user already runs, given as a URL.

Nothing is started or stopped; the start checks that it answers, and a URL that does not is an
error, never a fallback to another backend. Each test resets it (mappings, journal, scenarios), so
it must serve one session alone.
"""

from __future__ import annotations

from pytest_ipc.stub.server import HttpStub
from pytest_ipc.stub.wiremock import WireMockError


class ExternalWireMockBackend:
    """The WireMock at `url`; `where` names the setting it came from, for messages."""

    name = "external"

    def __init__(self, url: str | None, where: str) -> None:
        self.url = url
        self.where = where
        self._stub: HttpStub | None = None

    def unavailable_reason(self) -> str | None:
        return None if self.url else f"no URL given ({self.where})"

    def start(self) -> HttpStub:
        if not self.url:
            raise WireMockError(f"external WireMock: {self.unavailable_reason()}")
        stub = HttpStub.on_wiremock(self.url)
        try:
            stub.start()
        except WireMockError as error:
            stub.stop()
            raise WireMockError(f"the external WireMock (from {self.where}): {error}; start it, or correct the URL") from error
        self._stub = stub
        return stub

    def stop(self) -> None:
        if self._stub is not None:
            self._stub.stop()
            self._stub = None
