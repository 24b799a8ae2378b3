"""One exception hierarchy for everything a Toxiproxy API can refuse.

Toxiproxy answers errors as ``{"error": "<message>", "status": <code>}``; the status alone is too
coarse (404 means a missing proxy *or* a missing toxic), so the class is picked from the message too,
and the server's own words are always quoted in ``str(error)``.
"""

from __future__ import annotations

from pytest_ipc._errors import IpcError, IpcUsageError


class ToxiproxyError(IpcError):
    """A Toxiproxy API call failed; `status` is the HTTP status (None when no answer came back)."""

    def __init__(self, message: str, status: int | None = None, *, request: str = "") -> None:
        self.message = message
        self.status = status
        self.request = request
        super().__init__(message)

    def __str__(self) -> str:
        if self.status is None:  # our own words, no server answer to quote
            return f"{self.request}: {self.message}" if self.request else self.message
        where = f"{self.request} -> " if self.request else ""
        return f"{where}{self.status} {self.message!r}"


class InvalidRequest(ToxiproxyError):
    """The server rejected the request body or its values (HTTP 400)."""


class ProxyNotFound(ToxiproxyError):
    """No proxy of that name exists on the server."""


class ProxyExists(ToxiproxyError):
    """A proxy of that name exists already."""


class ToxicNotFound(ToxiproxyError):
    """The proxy has no toxic of that name."""


class ToxicExists(ToxiproxyError):
    """The proxy already has a toxic of that name (names are unique across both streams)."""


class InvalidArgument(ToxiproxyError, IpcUsageError):
    """Refused before sending: an argument the server would reject, with the valid choices."""


class ServerUnreachable(ToxiproxyError):
    """No HTTP answer at all: nothing listens at the URL, or it did not answer within the timeout."""


class UnsupportedByServer(ToxiproxyError):
    """The server lacks an endpoint; counters and connections exist only in pytest-ipc's server."""


_BY_MESSAGE: dict[str, type[ToxiproxyError]] = {
    "proxy not found": ProxyNotFound,
    "proxy already exists": ProxyExists,
    "toxic not found": ToxicNotFound,
    "toxic already exists": ToxicExists,
}


def error_for(status: int, message: str, request: str) -> ToxiproxyError:
    """The most specific exception for a Toxiproxy error answer."""
    kind = _BY_MESSAGE.get(message)
    if kind is None:
        kind = InvalidRequest if status == 400 else ToxiproxyError
    return kind(message, status, request=request)
