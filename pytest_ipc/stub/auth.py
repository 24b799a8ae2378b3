"""Required credentials, as a service in front of another one would check them.

No credentials (or a different scheme, or an unreadable header) is 401 with a `WWW-Authenticate`
challenge; well-formed but wrong credentials are 403. That split is what service-to-service auth
tests need: a client must tell "I forgot to authenticate" from "my token is not accepted".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass

from pytest_ipc._http import Response
from pytest_ipc.stub.request import StubRequest

REALM = "pytest-ipc"


def _deny(status: int, error: str, challenge: str | None = None) -> Response:
    headers = [("content-type", "application/json")]
    if challenge:
        headers.append(("www-authenticate", challenge))
    return Response(status, json.dumps({"error": error}).encode(), headers)


def _credentials(request: StubRequest, scheme: str) -> str | None:
    value = request.headers.get("authorization", "")
    given_scheme, _, credentials = value.partition(" ")
    if given_scheme.lower() != scheme.lower() or not credentials.strip():
        return None
    return credentials.strip()


@dataclass(frozen=True)
class BearerAuth:
    token: str

    def __post_init__(self) -> None:
        if not self.token or any(ch.isspace() for ch in self.token):
            raise ValueError(f"a bearer token must be non-empty without spaces, got {self.token!r}")

    def check(self, request: StubRequest) -> Response | None:
        """None when the request carries the token; otherwise the 401/403 to send."""
        given = _credentials(request, "Bearer")
        if given is None:
            return _deny(401, "missing bearer token", f'Bearer realm="{REALM}"')
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return _deny(403, "bearer token not accepted")
        return None


@dataclass(frozen=True)
class BasicAuth:
    user: str
    password: str

    def __post_init__(self) -> None:
        if not self.user or ":" in self.user:
            raise ValueError(f"a basic-auth user must be non-empty without ':', got {self.user!r}")

    def check(self, request: StubRequest) -> Response | None:
        """None when the request carries this user and password; otherwise the 401/403 to send."""
        challenge = f'Basic realm="{REALM}", charset="UTF-8"'
        encoded = _credentials(request, "Basic")
        if encoded is None:
            return _deny(401, "missing basic credentials", challenge)
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _deny(401, "unreadable basic credentials", challenge)
        if not sep:
            return _deny(401, "unreadable basic credentials", challenge)
        expected = f"{self.user}:{self.password}".encode()
        if not hmac.compare_digest(f"{user}:{password}".encode(), expected):
            return _deny(403, "basic credentials not accepted")
        return None


Auth = BearerAuth | BasicAuth
