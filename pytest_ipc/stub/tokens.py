"""The stub's OAuth2 authorization server: signing keys, their JWKS, the client-credentials token endpoint.

    issuer = http_stub.token_issuer(audience="orders-api", lifetime=300.0)
    issuer.add_client("billing", "s3cret", scopes=["orders:read", "orders:write"])
    orders = http_stub.expect("GET", "/v1/orders").require_jwt(issuer, scopes="orders:read").respond(json=[])
    # the client POSTs grant_type=client_credentials to issuer.token_url, then calls with the token

The one owner of *issuing* service tokens; *checking* them is `pytest_ipc.stub.auth.JwtAuth`, with
the keys this issuer publishes. Both endpoints are ordinary routes of the same stub
(`jwks_route`, `token_route`), so the fault vocabulary applies to them as to any route: the token
endpoint down is ``faults.status(503)`` or ``faults.reset()`` on `token_route`, slow is
``faults.latency(...)``, the JWKS unavailable is a fault on `jwks_route`; a connection refused needs
the fault proxy in front of the stub (the stub's listener also serves the API).

Clock skew is a setting (`clock_skew`, seconds; positive: the issuer's clock is ahead), not a fault:
a fault says how a transport misbehaves, the same at every layer, and fires request by request; a
skewed clock is in what the issuer signs, which only the issuer can produce. Tests set `lifetime`
(short, to see refreshes) and `rotate_key()` during a test. Keys are ES256 (P-256): quick to make.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import math
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pytest_ipc._optional import require
from pytest_ipc.stub.responses import Reply

if TYPE_CHECKING:
    from jwt.algorithms import AllowedPublicKeys

    from pytest_ipc.stub.request import StubRequest
    from pytest_ipc.stub.routes import Route
    from pytest_ipc.stub.server import HttpStub

JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/oauth/token"
ALGORITHM = "ES256"
NO_STORE = (("cache-control", "no-store"), ("pragma", "no-cache"))  # RFC 6749 §5.1


def scope_set(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """Scopes given as one space-separated string or as an iterable, in order, without repeats."""
    words = scopes.split() if isinstance(scopes, str) else [str(scope) for scope in scopes]
    return tuple(dict.fromkeys(words))


def _seconds(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (positive and value <= 0):
        wanted = "a finite number of seconds > 0" if positive else "a finite number of seconds"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SigningKey:
    """One key pair; `kid` names it in token headers and in the JWKS."""

    kid: str
    private: Any  # cryptography's EllipticCurvePrivateKey

    @functools.cached_property
    def public(self) -> AllowedPublicKeys:
        """The public key, one object for the key's life (the JWT check caches verdicts by it)."""
        return self.private.public_key()  # type: ignore[no-any-return]

    def jwk(self) -> dict[str, object]:
        """The public key as a JWK (RFC 7517) for the JWKS."""
        algorithms = require("jwt.algorithms", extra="security", feature="service tokens")
        jwk: dict[str, object] = algorithms.ECAlgorithm.to_jwk(self.public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


@dataclass(frozen=True)
class IssuedToken:
    """A token the issuer signed: its claims and when it expires on `time.monotonic()` (never the token)."""

    claims: dict[str, Any]
    kid: str
    issued_at: float
    expires_at: float

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    def describe(self) -> str:
        """How messages name the token: its id, subject, scopes and lifetime."""
        lifetime = float(self.claims["exp"]) - float(self.claims["iat"])
        return f"token {self.jti[:8]} (sub={self.claims['sub']}, scope={self.claims.get('scope', '')!r}, lifetime {lifetime:.3f} s)"


@dataclass
class _Client:
    secret: str = field(repr=False)
    scopes: tuple[str, ...]


@dataclass
class TokenIssuer:
    """The stub's authorization server; made by `HttpStub.token_issuer`, gone with the test's configuration.

    `issuer` (the `iss` claim) defaults to the stub's URL, `audience` (`aud`) too. `lifetime` and
    `clock_skew` are seconds and may change during a test; `issued` lists every token signed, by
    claims (a fault on `token_route` may still keep one from its client). Settings are read by the stub's thread as requests arrive.
    """

    stub: HttpStub = field(repr=False)
    issuer: str
    audience: str
    lifetime: float = 300.0
    clock_skew: float = 0.0
    algorithm: str = ALGORITHM
    issued: list[IssuedToken] = field(default_factory=list, repr=False)
    clients: dict[str, _Client] = field(default_factory=dict, repr=False)
    _keys: tuple[SigningKey, ...] = field(default=(), repr=False)  # the current key first, then older ones still published
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.lifetime = _seconds("lifetime", self.lifetime, positive=True)
        self.clock_skew = _seconds("clock_skew", self.clock_skew)
        self._keys = (self._new_key(),)
        self.jwks_route: Route = self.stub.expect("GET", JWKS_PATH, name="jwks").respond_with(self._jwks)
        self.token_route: Route = self.stub.expect("POST", TOKEN_PATH, name="token endpoint").respond_with(self._token_endpoint)

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("lifetime", "clock_skew") and name in vars(self):
            value = _seconds(name, value, positive=name == "lifetime")
        super().__setattr__(name, value)

    # -- what a test sets up ---------------------------------------------------------------------
    @property
    def jwks_url(self) -> str:
        return self.stub.url_for(JWKS_PATH)

    @property
    def token_url(self) -> str:
        return self.stub.url_for(TOKEN_PATH)

    @property
    def kid(self) -> str:
        """The `kid` of the key that signs new tokens."""
        return self._keys[0].kid

    @property
    def published(self) -> tuple[str, ...]:
        """The `kid`s the JWKS serves, the current one first."""
        return tuple(key.kid for key in self._keys)

    def add_client(self, client_id: str, secret: str, *, scopes: str | Iterable[str] = ()) -> None:
        """A client the token endpoint accepts, and the scopes it may be granted (all of them when it asks for none)."""
        if not client_id or ":" in client_id or not secret:
            raise ValueError(f"a client needs a non-empty id without ':' and a non-empty secret, got {client_id!r}")
        self.clients[client_id] = _Client(secret, scope_set(scopes))

    def rotate_key(self, *, keep_old: bool = True) -> str:
        """Sign new tokens with a new key (returned: its `kid`); the JWKS keeps the old keys or drops them
        (then tokens they signed are refused: 401 invalid_token)."""
        with self._lock:
            self._keys = (self._new_key(), *(self._keys if keep_old else ()))
            return self._keys[0].kid

    def issue(
        self, subject: str = "pytest-ipc", *, scopes: str | Iterable[str] = (), lifetime: float | None = None,
        audience: str | None = None, claims: Mapping[str, object] | None = None,
    ) -> str:  # fmt: skip
        """Sign a token now, as the token endpoint would (`lifetime` may be negative: an expired token);
        `claims` are added or override the registered ones."""
        span = self.lifetime if lifetime is None else _seconds("lifetime", lifetime)
        return self._sign(subject, scope_set(scopes), span, audience or self.audience, dict(claims or {}))

    def published_keys(self) -> dict[str, AllowedPublicKeys]:
        """The public keys the JWKS serves, by `kid` (what `JwtAuth` verifies against)."""
        return {key.kid: key.public for key in self._keys}

    def token(self, jti: str) -> IssuedToken | None:
        """The issued token with this `jti` claim, or None."""
        return next((token for token in list(self.issued) if token.jti == jti), None)

    # -- signing and serving (serving runs on the stub's thread) ---------------------------------
    def _new_key(self) -> SigningKey:
        ec = require("cryptography.hazmat.primitives.asymmetric.ec", extra="security", feature="service tokens")
        return SigningKey(uuid.uuid4().hex[:12], ec.generate_private_key(ec.SECP256R1()))

    def _sign(self, subject: str, scopes: tuple[str, ...], lifetime: float, audience: str, extra: dict[str, object]) -> str:
        jwt = require("jwt", extra="security", feature="service tokens")
        key = self._keys[0]
        wall, monotonic = time.time(), time.monotonic()
        now = wall + self.clock_skew
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime,
            "jti": uuid.uuid4().hex, "client_id": subject,
        }  # fmt: skip
        if scopes:
            claims["scope"] = " ".join(scopes)
        claims.update(extra)
        expires_at = monotonic + (float(claims["exp"]) - wall)
        self.issued.append(IssuedToken(claims, key.kid, monotonic, expires_at))
        return str(jwt.encode(claims, key.private, algorithm=self.algorithm, headers={"kid": key.kid}))

    def _jwks(self, request: StubRequest) -> Reply:
        return Reply(json={"keys": [key.jwk() for key in self._keys]}, headers={"cache-control": "max-age=0"})

    def _token_endpoint(self, request: StubRequest) -> Reply:
        """RFC 6749 §4.4: client credentials by basic auth or in the form, `scope`, an access token."""
        form = {name: values[-1] for name, values in parse_qs(request.text, keep_blank_values=True).items()}
        basic = request.headers.get("authorization", "")
        in_form = "client_id" in form or "client_secret" in form
        if basic and in_form:
            return _oauth_error(400, "invalid_request", "client credentials given twice (basic auth and form); use one")
        client_id, secret = _basic(basic) if basic else (form.get("client_id"), form.get("client_secret"))
        client = self.clients.get(client_id or "")
        if client is None or secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            challenge = {"www-authenticate": 'Basic realm="pytest-ipc"'} if basic else {}
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret", challenge)
        grant = form.get("grant_type")
        if grant is None:
            return _oauth_error(400, "invalid_request", "grant_type is missing")
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r}; this endpoint issues client_credentials")
        asked = scope_set(form.get("scope", ""))
        beyond = [scope for scope in asked if scope not in client.scopes]
        if beyond:
            return _oauth_error(400, "invalid_scope", f"client {client_id} may not be granted {' '.join(beyond)}")
        granted = asked or client.scopes
        token = self._sign(str(client_id), granted, self.lifetime, self.audience, {})
        lifetime: float | int = int(self.lifetime) if self.lifetime.is_integer() else self.lifetime
        body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(granted)}
        return Reply(json=body, headers=NO_STORE)


def _basic(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def _oauth_error(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> Reply:
    """An RFC 6749 §5.2 error response."""
    return Reply(status, json={"error": error, "error_description": description}, headers={**dict(NO_STORE), **(headers or {})})
