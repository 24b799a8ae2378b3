"""Required credentials, as a service in front of another one would check them: the one owner of the
stub's credential checks (bearer, basic, and JWTs its token issuer signs).

No credentials (or a different scheme, or an unreadable header) is 401 with a `WWW-Authenticate`
challenge; well-formed but wrong credentials are 403. That split is what service-to-service auth
tests need: a client must tell "I forgot to authenticate" from "my token is not accepted".

`JwtAuth` checks a JWT as a resource server would (RFC 6750): signature against the keys the
stub's `TokenIssuer` serves in its JWKS, issuer, audience, expiry, not-before, then the route's
scopes. An invalid token is 401 `error="invalid_token"` with the reason in `error_description`;
a valid token without the scopes is 403 `error="insufficient_scope"` naming them. The token's
claims (read even when the token is refused) and the reason go on the request, so the journal
shows them; the raw token is never put in a message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pytest_ipc._http import Response
from pytest_ipc._optional import require
from pytest_ipc.stub.request import StubRequest

if TYPE_CHECKING:
    from jwt.algorithms import AllowedPublicKeys

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


class KeySet(Protocol):
    """What `JwtAuth` needs from the stub's token issuer: who signs, for whom, with which keys."""

    issuer: str
    audience: str
    algorithm: str

    def published_keys(self) -> Mapping[str, AllowedPublicKeys]:
        """The public keys the JWKS serves now, by `kid`."""


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


def _bearer_challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    """An RFC 6750 §3 challenge; no error code when the request carried no token at all (§3.1)."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def _b64(part: str) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


_VERIFIED: dict[tuple[str, str], bool] = {}  # (token, kid) -> whether that key signed it
VERIFIED_KEPT = 1024


def _signature_valid(token: str, algorithm: str, kid: str, key: AllowedPublicKeys) -> bool:
    """Whether `key` (published as `kid`, a random id) signed `token`. A client sends the same token
    many times and the signature is most of a JWT check's cost, so each token is checked once per key."""
    known = _VERIFIED.get((token, kid))
    if known is None:
        algorithms = require("jwt.algorithms", extra="security", feature="JWT checks (require_jwt)")
        signing_input, _, signature = token.rpartition(".")
        try:
            known = bool(algorithms.get_default_algorithms()[algorithm].verify(signing_input.encode(), key, _b64(signature)))
        except (binascii.Error, ValueError):
            known = False
        if len(_VERIFIED) >= VERIFIED_KEPT:
            _VERIFIED.clear()
        _VERIFIED[(token, kid)] = known
    return known


def _unverified(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A JWS compact token's header and claims, unverified; None for what cannot be read."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    decoded: list[dict[str, Any] | None] = []
    for part in parts[:2]:
        try:
            value = json.loads(_b64(part))
        except (binascii.Error, ValueError):
            value = None
        decoded.append(value if isinstance(value, dict) else None)
    return decoded[0], decoded[1]


def token_scopes(claims: Mapping[str, object]) -> frozenset[str]:
    """The scopes a token grants: its `scope` claim (space-separated, RFC 8693 §4.2) or `scp` list."""
    scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list):
        return frozenset(str(item) for item in scope)
    return frozenset()


@dataclass(frozen=True)
class JwtAuth:
    """A JWT signed by one of `keys`' published keys, for its issuer and audience, granting `scopes`.

    `leeway` (seconds) is how far off this service tolerates the issuer's clock on `exp` and `nbf`.
    """

    keys: KeySet
    scopes: tuple[str, ...] = ()
    leeway: float = 0.0

    def __post_init__(self) -> None:
        bad = [scope for scope in self.scopes if not scope or any(ch.isspace() or ch == '"' for ch in scope)]
        if bad:
            raise ValueError(f"a scope is a non-empty word without spaces or quotes, got {bad!r}")
        if isinstance(self.leeway, bool) or not isinstance(self.leeway, (int, float)) or self.leeway < 0:
            raise ValueError(f"leeway must be a number of seconds >= 0, got {self.leeway!r}")

    def check(self, request: StubRequest) -> Response | None:
        """None when the request carries a valid token with the scopes; otherwise the 401/403 to send."""
        token = _credentials(request, "Bearer")
        if token is None:
            request.token_problem = "missing bearer token"
            return _deny(401, "missing bearer token", _bearer_challenge())
        claims, problem = self._verify(token)
        request.claims = claims
        if problem is None:
            missing = sorted(set(self.scopes) - token_scopes(claims or {}))
            if missing:
                request.token_problem = f"insufficient scope: lacks {' '.join(missing)}"
                challenge = _bearer_challenge("insufficient_scope", f"token lacks scope {' '.join(missing)}", " ".join(self.scopes))
                return _deny(403, request.token_problem, challenge)
            return None
        request.token_problem = problem
        return _deny(401, problem, _bearer_challenge("invalid_token", problem))

    def _verify(self, token: str) -> tuple[dict[str, Any] | None, str | None]:
        """(claims, None) for a valid token; (claims if readable, the reason) otherwise. The header and
        claims are read here and the signature checked by PyJWT's algorithm alone (PyJWT's own
        parsing of a token costs more than the signature check)."""
        header, claims = _unverified(token)
        if header is None or claims is None:
            return None, "token malformed (not a JWT)"
        if header.get("alg") != self.keys.algorithm:
            return claims, f"token algorithm {header.get('alg')!r} is not {self.keys.algorithm}"
        kid = str(header.get("kid"))
        key = self.keys.published_keys().get(kid) if "kid" in header else None
        if key is None:
            return claims, f"token signed with key kid={header.get('kid')!r}, which the JWKS does not publish"
        if not _signature_valid(token, self.keys.algorithm, kid, key):
            return claims, "token signature not valid"
        return claims, self._claims_problem(claims)

    def _claims_problem(self, claims: Mapping[str, object]) -> str | None:
        """The first registered claim that is wrong (RFC 7519 §4.1), checked to the fraction of a second."""
        if claims.get("iss") != self.keys.issuer:
            return f"token issuer {claims.get('iss')!r} is not {self.keys.issuer!r}"
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.keys.audience not in audiences:
            return f"token audience {audience!r} does not include {self.keys.audience!r}"
        now = time.time()
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, (int, float)):
            return "token has no exp claim"
        if now >= expires + self.leeway:
            return "token expired"
        if isinstance(not_before, (int, float)) and now < not_before - self.leeway:
            return "token not yet valid (nbf is in the future)"
        return None


Auth = BearerAuth | BasicAuth | JwtAuth
