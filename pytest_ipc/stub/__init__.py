"""The HTTP stub: an embedded HTTP/1.1 server with routes, scenarios, auth, faults and a journal.

    from pytest_ipc import faults

    def test_client_retries(http_stub):
        orders = http_stub.expect("GET", "/v1/orders/{order_id}", headers={"x-tenant": "acme"})
        orders.require_bearer("t0k3n").fail_first(2, status=503, retry_after=1).then_respond(
            json=fake_json({"id": "uuid4", "customer": "name"}, seed=7)
        )
        http_stub.expect("POST", "/v1/orders", json={"qty": 1}).respond(status=201).inject(faults.latency(0.2))
        ...  # run the client against http_stub.url
        http_stub.assert_called(orders, times=3)

Pieces: `matchers` (what a route takes), `responses` and `fake` (what it answers), `routes` (the
fluent route), `auth` (every credential check, JWTs included), `tokens` (the OAuth2 token issuer
and its JWKS, `http_stub.token_issuer()`), `scenarios`, `journal` (what was seen), `server` (`HttpStub`, the API), and
the two servers behind it: `embedded` (the shared h11 core, whose bounds are `Limits`) and
`wiremock` (`HttpStub.on_wiremock(url)`; what WireMock cannot express raises `WireMockUnsupported`);
`openapi` serves an OpenAPI document's operations as routes (`HttpStub.serve_openapi`); `group` puts N
instances of one service behind one name (`StubGroup`, the `http_stub_group` fixture). Faults are the vocabulary of
`pytest_ipc.faults`; how the stub performs them lives in `pytest_ipc.faults.layers.stub`. Fixtures:
`pytest_ipc.fixtures.stub`.
"""

from pytest_ipc._http import Limits
from pytest_ipc.stub.fake import FakeJson, fake_json
from pytest_ipc.stub.group import GroupRoute, StubGroup, StubGroupError, StubGroups
from pytest_ipc.stub.journal import Journal, JournalEntry
from pytest_ipc.stub.openapi import OpenApiStub, RequestViolation, SpecRoute
from pytest_ipc.stub.request import StubRequest
from pytest_ipc.stub.responses import Reply
from pytest_ipc.stub.routes import Route
from pytest_ipc.stub.scenarios import Scenario
from pytest_ipc.stub.server import HttpStub
from pytest_ipc.stub.tokens import IssuedToken, TokenIssuer
from pytest_ipc.stub.wiremock import WireMockError, WireMockUnsupported

__all__ = [
    "FakeJson",
    "GroupRoute",
    "HttpStub",
    "IssuedToken",
    "Journal",
    "JournalEntry",
    "Limits",
    "OpenApiStub",
    "Reply",
    "RequestViolation",
    "Route",
    "Scenario",
    "SpecRoute",
    "StubGroup",
    "StubGroupError",
    "StubGroups",
    "StubRequest",
    "TokenIssuer",
    "WireMockError",
    "WireMockUnsupported",
    "fake_json",
]
