"""The stub's service tokens: JWT checks with RFC 6750 answers, the client-credentials token endpoint,
the JWKS (validated by PyJWT's PyJWKClient, across key rotations), clock skew, and faults on the
token endpoint and the JWKS."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable, Iterator

import httpx
import jwt
import pytest

from pytest_ipc import faults
from pytest_ipc.resilience import assert_timeout_honoured
from pytest_ipc.stub import HttpStub, Route, TokenIssuer, WireMockUnsupported

AUDIENCE = "orders-api"
TLS = ssl.create_default_context()  # built once: each one loads the CA bundle


@pytest.fixture
def issuer(http_stub: HttpStub) -> TokenIssuer:
    made = http_stub.token_issuer(audience=AUDIENCE)
    made.add_client("billing", "s3cret", scopes=["orders:read", "orders:write"])
    return made


@pytest.fixture
def orders(http_stub: HttpStub, issuer: TokenIssuer) -> Route:
    return http_stub.expect("GET", "/v1/orders").require_jwt(issuer, scopes="orders:read").respond(json=[])


@pytest.fixture
def client(http_stub: HttpStub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=http_stub.url, timeout=2.0, verify=TLS) as made:
        yield made


def get(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/v1/orders", headers={"authorization": f"Bearer {token}"})


def fetch(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post("/oauth/token", data={"grant_type": "client_credentials", **form}, auth=("billing", "s3cret"))


def test_a_valid_token_passes_and_the_journal_keeps_its_claims_not_the_token(
    http_stub: HttpStub, issuer: TokenIssuer, orders: Route, client: httpx.Client
) -> None:
    token = issuer.issue("billing", scopes="orders:read")
    assert get(client, token).status_code == 200
    [entry] = http_stub.calls(orders)
    assert entry.claims is not None and entry.claims["sub"] == "billing" and entry.claims["aud"] == AUDIENCE
    assert entry.claims["iss"] == http_stub.url and entry.token_problem is None
    assert token not in entry.describe() and token not in http_stub.journal.render()


def test_missing_token_is_401_with_a_bare_challenge(orders: Route, client: httpx.Client) -> None:
    answer = client.get("/v1/orders")
    assert (answer.status_code, answer.headers["www-authenticate"]) == (401, 'Bearer realm="pytest-ipc"')


#: An HMAC key of the length RFC 7518 asks for (a shorter one makes PyJWT warn in the suite's summary).
SHARED_SECRET = "a-shared-secret-of-thirty-two-bytes"
INVALID: list[tuple[Callable[[TokenIssuer], str], str]] = [
    (lambda issuer: issuer.issue("billing", scopes="orders:read", lifetime=-1.0), "token expired"),
    (lambda issuer: issuer.issue("billing", scopes="orders:read", claims={"nbf": time.time() + 60}), "token not yet valid"),
    (lambda issuer: issuer.issue("billing", scopes="orders:read", audience="someone-else"), "token audience 'someone-else'"),
    (lambda issuer: issuer.issue("billing", scopes="orders:read", claims={"iss": "https://evil"}), "token issuer 'https://evil'"),
    (lambda issuer: issuer.issue("billing", scopes="orders:read")[:-4] + "AAAA", "token signature not valid"),
    (lambda issuer: "not-a-jwt", "token malformed"),
    (lambda issuer: jwt.encode({"sub": "billing"}, SHARED_SECRET, algorithm="HS256"), "token algorithm 'HS256' is not ES256"),
]


def test_an_invalid_token_is_401_invalid_token_with_the_reason(
    http_stub: HttpStub, issuer: TokenIssuer, orders: Route, client: httpx.Client
) -> None:
    for make, reason in INVALID:
        answer = get(client, make(issuer))
        assert answer.status_code == 401, reason
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="pytest-ipc", error="invalid_token", error_description="' + reason), challenge
    assert [entry.token_problem.split(" (")[0][:20] for entry in http_stub.calls(orders)] == [  # type: ignore[union-attr]
        reason.split(" (")[0][:20] for _make, reason in INVALID
    ]


def test_a_token_without_the_scope_is_403_insufficient_scope(orders: Route, issuer: TokenIssuer, client: httpx.Client) -> None:
    answer = get(client, issuer.issue("billing", scopes="orders:write"))
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"] == (
        'Bearer realm="pytest-ipc", error="insufficient_scope", error_description="token lacks scope orders:read", scope="orders:read"'
    )


def test_the_token_endpoint_follows_rfc_6749(issuer: TokenIssuer, orders: Route, client: httpx.Client) -> None:
    issuer.lifetime = 0.5
    answer = fetch(client, scope="orders:read")
    body = answer.json()
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 0.5, "orders:read")
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "ES256", "kid": issuer.kid, "typ": "JWT"}
    assert get(client, body["access_token"]).status_code == 200
    assert fetch(client).json()["scope"] == "orders:read orders:write"  # no scope asked: every scope registered
    in_form = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "billing", "client_secret": "s3cret"})
    assert in_form.status_code == 200


REFUSED: list[tuple[dict[str, str], tuple[str, str] | None, int, str]] = [
    ({"grant_type": "client_credentials"}, ("billing", "wrong"), 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, None, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "billing"}, ("billing", "s3cret"), 400, "invalid_request"),  # twice
    ({}, ("billing", "s3cret"), 400, "invalid_request"),
    ({"grant_type": "password"}, ("billing", "s3cret"), 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "scope": "admin"}, ("billing", "s3cret"), 400, "invalid_scope"),
]


def test_the_token_endpoint_refuses_with_rfc_6749_errors(issuer: TokenIssuer, client: httpx.Client) -> None:
    for form, auth, status, error in REFUSED:
        answer = client.post("/oauth/token", data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
        assert (answer.status_code, answer.json()["error"]) == (status, error), form
        assert ("www-authenticate" in answer.headers) == (status == 401 and auth is not None)  # basic auth gets a challenge
    assert not issuer.issued


def test_key_rotation_mid_test_as_a_service_validating_with_pyjwkclient_sees_it(
    issuer: TokenIssuer, orders: Route, client: httpx.Client
) -> None:
    # PyJWKClient refetches the JWKS for an unknown kid at most once per cooldown_duration (30 s by
    # default): a service that fetched the keys less than that ago refuses tokens of a new key
    services_keys = jwt.PyJWKClient(issuer.jwks_url, cache_keys=False, lifespan=3600, cooldown_duration=0.0)

    def validate(token: str) -> dict[str, object]:
        key = services_keys.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=issuer.issuer)

    before = fetch(client).json()["access_token"]
    assert validate(before)["sub"] == "billing"
    first_kid = issuer.kid
    assert issuer.rotate_key(keep_old=True) != first_kid and issuer.published == (issuer.kid, first_kid)
    after = fetch(client).json()["access_token"]
    assert validate(after)["sub"] == "billing"  # an unknown kid: PyJWKClient fetches the JWKS again
    assert validate(before)["sub"] == "billing"  # the old key is still published
    issuer.rotate_key(keep_old=False)
    assert len(issuer.published) == 1
    assert validate(before)["sub"] == "billing"  # a service that cached the JWKS knows no better until its lifespan ends
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        jwt.PyJWKClient(issuer.jwks_url).get_signing_key_from_jwt(before)  # one that fetches the JWKS now refuses it
    assert get(client, after).headers["www-authenticate"].endswith(
        f'error_description="token signed with key kid=\'{jwt.get_unverified_header(after)["kid"]}\', which the JWKS does not publish"'
    )


def test_clock_skew_shifts_issued_times_and_leeway_absorbs_it(http_stub: HttpStub, issuer: TokenIssuer, client: httpx.Client) -> None:
    strict = http_stub.expect("GET", "/v1/orders").require_jwt(issuer, scopes="orders:read").respond(json=[])
    tolerant = http_stub.expect("GET", "/v2/orders").require_jwt(issuer, scopes="orders:read", leeway=120.0).respond(json=[])
    issuer.clock_skew = 60.0  # the issuer's clock is a minute ahead
    token = fetch(client, scope="orders:read").json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] == claims["nbf"] and claims["nbf"] - time.time() > 55
    answer = get(client, token)
    assert answer.status_code == 401 and 'error_description="token not yet valid' in answer.headers["www-authenticate"]
    assert client.get("/v2/orders", headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert [entry.status for entry in http_stub.calls(strict) + http_stub.calls(tolerant)] == [401, 200]


def test_faults_on_the_token_endpoint_and_the_jwks(http_stub: HttpStub, issuer: TokenIssuer, client: httpx.Client) -> None:
    with faults.inject(faults.status(503, retry_after=1), into=issuer.token_route):  # the token endpoint is down
        answer = fetch(client)
        assert (answer.status_code, answer.headers["retry-after"]) == (503, "1") and "access_token" not in answer.text
    with faults.inject(faults.latency(3.0), into=issuer.token_route):  # slow: a client without a deadline hangs on it
        form = {"grant_type": "client_credentials"}
        call = lambda: httpx.post(issuer.token_url, data=form, auth=("billing", "s3cret"), timeout=0.2, verify=TLS)  # noqa: E731
        assert_timeout_honoured(call, budget=0.2, slack=1.0, stub=http_stub)
    with faults.inject(faults.status(503), into=issuer.jwks_route):  # the JWKS is unavailable
        with pytest.raises(jwt.PyJWKClientConnectionError, match="Fail to fetch data from the url"):
            jwt.PyJWKClient(issuer.jwks_url).get_signing_keys()
    assert [entry.fault for entry in http_stub.calls(issuer.jwks_route)] == ["status"]


def test_a_route_fault_that_never_fired_fails_its_block(issuer: TokenIssuer) -> None:
    with pytest.raises(faults.FaultNeverFired, match=r"no request reached the route token endpoint during the block"):
        with faults.inject(faults.status(503), into=issuer.token_route):
            pass


def test_bad_input_names_the_problem(http_stub: HttpStub, issuer: TokenIssuer) -> None:
    with pytest.raises(ValueError, match="lifetime must be a finite number of seconds > 0, got 0"):
        issuer.lifetime = 0
    with pytest.raises(ValueError, match="has a token issuer already"):
        http_stub.token_issuer()
    with pytest.raises(ValueError, match="a scope is a non-empty word without spaces or quotes"):
        http_stub.expect("GET", "/x").require_jwt(issuer, scopes=['orders"read'])
    with pytest.raises(ValueError, match="a client needs a non-empty id without ':'"):
        issuer.add_client("a:b", "secret")
    with pytest.raises(WireMockUnsupported, match="the token issuer signs tokens per request; WireMock cannot"):
        HttpStub.on_wiremock("http://127.0.0.1:9").token_issuer()


def test_basic_credentials_in_the_form_header_are_read(issuer: TokenIssuer, client: httpx.Client) -> None:
    header = "Basic " + base64.b64encode(b"billing:s3cret").decode()
    answer = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={"authorization": header})
    assert json.loads(answer.text)["token_type"] == "Bearer"
