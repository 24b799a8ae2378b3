"""HTTP transport to one Toxiproxy API: JSON in and out, every failure turned into a ToxiproxyError."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from pytest_ipc.client.errors import ServerUnreachable, ToxiproxyError, UnsupportedByServer, error_for

USER_AGENT = "pytest-ipc-toxiproxy-client"  # Toxiproxy refuses user agents starting with "Mozilla/"


def api_path(*parts: str) -> str:
    """An API path from raw segments; names are quoted, so any proxy or toxic name is addressable."""
    return "/" + "/".join(quote(part, safe="") for part in parts)


class ToxiproxyTransport:
    """A keep-alive HTTP client for one server; thread-safe, as the underlying httpx client is."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers={"User-Agent": USER_AGENT})
        # Toxiproxy >= 2.6 takes PATCH for updates and logs POST as deprecated; older servers only
        # know POST and answer 405, after which we stay on POST.
        self._update_method = "PATCH"

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: object = None) -> Any:
        return self.request("POST", path, body)

    def update(self, path: str, body: dict[str, object]) -> Any:
        try:
            return self.request(self._update_method, path, body)
        except ToxiproxyError as error:
            if error.status != 405 or self._update_method == "POST":
                raise
            self._update_method = "POST"
            return self.request("POST", path, body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def get_text(self, path: str) -> str:
        return self._send("GET", path, None).text

    def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one request; return the decoded JSON answer (None for an empty one)."""
        response = self._send(method, path, body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ToxiproxyError(
                f"expected JSON from a Toxiproxy API, got {response.text[:200]!r}",
                response.status_code,
                request=f"{method} {self.url}{path}",
            ) from error

    def _send(self, method: str, path: str, body: object) -> httpx.Response:
        request = f"{method} {self.url}{path}"
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException as error:
            raise ServerUnreachable(
                f"no answer within {self.timeout} s ({type(error).__name__})", request=request
            ) from error
        except httpx.TransportError as error:
            raise ServerUnreachable(f"no connection ({error or type(error).__name__})", request=request) from error
        if response.is_error:
            raise _error_from(response, request)
        return response

    def close(self) -> None:
        self._http.close()


def _error_from(response: httpx.Response, request: str) -> ToxiproxyError:
    """Read Toxiproxy's ``{"error", "status"}`` body; a plain-text 404 means the endpoint is missing."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return error_for(response.status_code, body["error"], request)
    text = response.text.strip() or response.reason_phrase
    if response.status_code == 404:
        return UnsupportedByServer(f"this server has no such endpoint ({text})", 404, request=request)
    return ToxiproxyError(text, response.status_code, request=request)
