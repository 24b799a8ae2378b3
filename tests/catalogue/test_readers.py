"""Properties: the client reads responses a compatible provider release may send (added fields,
keys in another order); on a 401 it fetches a new token once and retries.

Defects: a strict reader that breaks on an added field (a dataclass built from every key), one that
reads values by position (breaks when keys are reordered); no token refresh on 401 (requests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import requests

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.contracts.evolve import ResponseEvolver
from pytest_ipc.stub import HttpStub
from tests.catalogue.variants import TLS, Variant, variants, verdict

ORDER = {"id": 7, "status": "placed", "note": "leave at the door"}
ADDED_FIELD = r"not a tolerant reader: it broke once responses were evolved \(seed=3\) with TypeError: .*unexpected keyword argument 'x_"
REORDERED = r"not a tolerant reader: .* with AssertionError: .*reordered the keys of \$"
NO_REFRESH = r"no token refresh on 401: the order request was answered 401 and the client asked for no new token"


@dataclass(frozen=True)
class Order:
    id: int
    status: str
    note: str


def read_by_key(body: dict[str, Any]) -> Order:
    return Order(body["id"], body["status"], body.get("note", ""))


def read_strictly(body: dict[str, Any]) -> Order:
    return Order(**body)  # every key must be a field: a new field breaks it


def read_by_position(body: dict[str, Any]) -> Order:
    order_id, status, note, *_ = body.values()  # the keys' order is part of nobody's contract
    return Order(order_id, status, note)


class OrdersClient:
    def __init__(self, base_url: str, read: Any) -> None:
        self.url, self.read = base_url + "/orders/7", read

    def order(self) -> Order:
        with httpx.Client(timeout=2, verify=TLS) as client:
            return self.read(client.get(self.url).json())  # type: ignore[no-any-return]


@variants(
    Variant("reads-by-key", "httpx", lambda url: OrdersClient(url, read_by_key)),
    Variant("strict-on-added-field", "httpx", lambda url: OrdersClient(url, read_strictly), ADDED_FIELD),
    Variant("reads-by-position", "httpx", lambda url: OrdersClient(url, read_by_position), REORDERED),
)
def test_the_client_reads_evolved_responses(http_stub: HttpStub, variant: Variant) -> None:
    http_stub.expect("GET", "/orders/7").respond(json=ORDER)
    client = variant.make(http_stub.url)
    assert client.order() == Order(7, "placed", "leave at the door")  # as published today
    evolver = ResponseEvolver(seed=3)
    http_stub.json_transform = evolver
    with verdict(variant):
        try:
            assert client.order() == Order(7, "placed", "leave at the door")
        except Exception as error:  # whatever broke the reader is the finding
            raise evolver.failure(error) from error


class TokenClient:
    """Bearer token from POST /token; `refreshes` says whether a 401 fetches a new one."""

    def __init__(self, base_url: str, *, refreshes: bool) -> None:
        self.base, self.refreshes = base_url, refreshes
        self.session = requests.Session()
        self.token: str | None = None

    def _token(self) -> str:
        return str(self.session.post(self.base + "/token", timeout=2).json()["token"])

    def order(self) -> dict[str, Any]:
        self.token = self.token or self._token()
        answer = self.session.get(self.base + "/orders/7", headers={"authorization": f"Bearer {self.token}"}, timeout=2)
        if answer.status_code == 401 and self.refreshes:
            self.token = self._token()
            answer = self.session.get(self.base + "/orders/7", headers={"authorization": f"Bearer {self.token}"}, timeout=2)
        answer.raise_for_status()
        return dict(answer.json())


@variants(
    Variant("refreshes", "requests", lambda url: TokenClient(url, refreshes=True)),
    Variant("no-refresh-on-401", "requests", lambda url: TokenClient(url, refreshes=False), NO_REFRESH),
)
def test_a_401_refreshes_the_token_once(http_stub: HttpStub, variant: Variant) -> None:
    tokens = http_stub.expect("POST", "/token").respond(json={"token": "t-1"}).then_respond(json={"token": "t-2"})
    orders = http_stub.expect("GET", "/orders/7").respond(status=401, json={"error": "token expired"}).then_respond(json=ORDER)
    client = variant.make(http_stub.url)
    try:
        outcome: object = client.order()
    except requests.HTTPError as error:
        outcome = error
    with verdict(variant):
        sent = [entry.headers["authorization"] for entry in http_stub.calls(orders)]
        if len(http_stub.calls(tokens)) < 2:
            raise IpcAssertionError(
                f"no token refresh on 401: the order request was answered 401 and the client asked for no new token "
                f"(token requests: {len(http_stub.calls(tokens))}, order requests sent with {sent}); the call ended with {outcome!r}"
            )
        assert sent == ["Bearer t-1", "Bearer t-2"] and outcome == ORDER
