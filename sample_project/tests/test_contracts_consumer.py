"""Consumer side of the shop's contracts: what the shop needs from /v1 and /v2 of the orders API,
and from the order events, recorded as Pact files by exercising the real shop code.

Passing tests write `shop-orders.json` and `shop-order-events.json` into the pact directory: run as
its own project (`python -m pytest sample_project`) that is `sample_project/pacts/`, the
files the provider tests in `test_contracts_provider.py` verify; in one session, they verify the
interactions as this session's consumer tests wrote them.
"""

from __future__ import annotations

from typing import Any

import pytest
from pact import match
from shop.client import OrderNotFound
from shop.events import OrderEvent

from pytest_ipc.contracts import ManagedPact

from .conftest import SHOP, ClientFactory

pytestmark = [pytest.mark.ipc_pact("shop", "orders"), pytest.mark.xdist_group("contracts")]

PACT_TOKEN = "pact-token"
ISO_8601 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$"
BEARER = match.regex(f"Bearer {PACT_TOKEN}", regex=r"^Bearer \S+$")


def expect_token(pact: ManagedPact) -> None:
    (
        pact.upon_receiving("the shop asks for a service token")
        .with_request("POST", "/auth/token")
        .with_body({"client_id": SHOP.client_id, "client_secret": SHOP.client_secret}, "application/json")
        .will_respond_with(200)
        .with_body({"access_token": match.str(PACT_TOKEN)})
    )


def expect_order(pact: ManagedPact, version: str, body: dict[str, Any]) -> None:
    (
        pact.upon_receiving(f"a {version} request for order 1")
        .given("the shop holds a service token", token=PACT_TOKEN)
        .given("an order exists", id=1)
        .with_request("GET", f"/{version}/orders/1")
        .with_header("Authorization", BEARER)
        .will_respond_with(200)
        .with_body(body)
    )


def test_shop_reads_a_v1_order(ipc_pact: ManagedPact, make_client: ClientFactory) -> None:
    expect_token(ipc_pact)
    expect_order(ipc_pact, "v1", {
        "id": match.int(1), "sku": match.str("BOOK-1"), "quantity": match.int(2),
        "status": match.str("placed"), "total": match.number(25.0),
    })
    with ipc_pact.serve() as server:
        order = make_client(str(server.url), api_version="v1").get_order(1)
    assert (order.sku, order.total_cents, order.currency) == ("BOOK-1", 2500, "EUR")


def test_shop_reads_a_v2_order(ipc_pact: ManagedPact, make_client: ClientFactory) -> None:
    expect_token(ipc_pact)
    expect_order(ipc_pact, "v2", {
        "id": match.int(1), "status": match.str("placed"),
        "items": match.each_like({"sku": match.str("BOOK-1"), "quantity": match.int(2)}, min=1),
        "total": {"amount_cents": match.int(2500), "currency": match.str("EUR")},
    })
    with ipc_pact.serve() as server:
        order = make_client(str(server.url), api_version="v2").get_order(1)
    assert (order.sku, order.quantity, order.total_cents) == ("BOOK-1", 2, 2500)


def test_shop_places_a_v2_order(ipc_pact: ManagedPact, make_client: ClientFactory) -> None:
    expect_token(ipc_pact)
    (
        ipc_pact.upon_receiving("a v2 order is placed")
        .given("the shop holds a service token", token=PACT_TOKEN)
        .with_request("POST", "/v2/orders")
        .with_header("Authorization", BEARER)
        .with_body({"items": [{"sku": "PEN-2", "quantity": 3, "unit_price_cents": 150}]}, "application/json")
        .will_respond_with(201)
        .with_body({
            "id": match.int(5), "status": match.str("placed"),
            "items": match.each_like({"sku": match.str("PEN-2"), "quantity": match.int(3)}, min=1),
            "total": {"amount_cents": match.int(450), "currency": match.str("EUR")},
        })
    )
    with ipc_pact.serve() as server:
        order = make_client(str(server.url)).place_order("PEN-2", 3, 150)
    assert order.total_cents == 450


def test_shop_reports_a_missing_order(ipc_pact: ManagedPact, make_client: ClientFactory) -> None:
    expect_token(ipc_pact)
    (
        ipc_pact.upon_receiving("a v2 request for a missing order")
        .given("the shop holds a service token", token=PACT_TOKEN)
        .given("no order exists")
        .with_request("GET", "/v2/orders/404")
        .with_header("Authorization", BEARER)
        .will_respond_with(404)
    )
    with ipc_pact.serve() as server, pytest.raises(OrderNotFound):
        make_client(str(server.url)).get_order(404)


@pytest.mark.ipc_pact("shop", "order-events")
def test_shop_understands_order_placed_events(ipc_pact: ManagedPact) -> None:
    (
        ipc_pact.upon_receiving("an order placed event", "Async")
        .with_body({
            "kind": "order.placed", "order_id": match.int(7),
            "event_id": match.regex("0f8e5c0b9d2a4c61a1f3b2d4e5f60718", regex="^[0-9a-f]{32}$"),
            "occurred_at": match.regex("2026-01-02T03:04:05+00:00", regex=ISO_8601),
        }, "application/json")
    )
    received: list[OrderEvent] = []
    ipc_pact.verify(lambda body, metadata: received.append(OrderEvent.from_json(str(body))), "Async")
    assert received[0].kind == "order.placed" and received[0].order_id == 7
