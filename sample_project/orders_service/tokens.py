"""Service tokens: clients trade their credentials for a short-lived bearer token at /auth/token."""

from __future__ import annotations

import secrets
import threading
import time


class TokenIssuer:
    def __init__(self, clients: dict[str, str], ttl_s: float = 300.0) -> None:
        self.clients = dict(clients)
        self.ttl_s = ttl_s
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, client_secret: str) -> str | None:
        """A new token for valid credentials, None otherwise."""
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, client_secret):
            return None
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expiry[token] = time.monotonic() + self.ttl_s
        return token

    def accept(self, token: str) -> None:
        """Honour a token issued elsewhere (contract tests replay recorded requests that carry one)."""
        with self._lock:
            self._expiry[token] = time.monotonic() + self.ttl_s

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and expiry > time.monotonic()

    def revoke_all(self) -> None:
        """Every token issued so far stops working (a key rotation): clients must fetch a new one."""
        with self._lock:
            self._expiry.clear()
