"""The orders API as the shop's tests stub it: a token endpoint and one order, in v1 or v2 shape."""

from __future__ import annotations

from typing import Any

from shop.orders import OrderView

from pytest_ipc.stub import HttpStub, Route

ORDER_ID = 7
ORDER_V1: dict[str, Any] = {"id": ORDER_ID, "sku": "BOOK-1", "quantity": 2, "status": "shipped", "total": 25.0}
ORDER_V2: dict[str, Any] = {
    "id": ORDER_ID,
    "status": "shipped",
    "customer": "ada",
    "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price_cents": 1250}],
    "total": {"amount_cents": 2500, "currency": "EUR"},
}
ORDER = OrderView(ORDER_ID, "shipped", "BOOK-1", 2, 2500, "EUR")
BODIES = {"v1": ORDER_V1, "v2": ORDER_V2}


def token_route(stub: HttpStub, *tokens: str) -> Route:
    """/auth/token hands out `tokens` in turn (the last one repeats)."""
    replies = [{"json": {"access_token": token, "token_type": "bearer", "expires_in": 300}} for token in tokens or ("t-1",)]
    return stub.expect("POST", "/auth/token", name="token").respond_sequence(replies)


def order_route(stub: HttpStub, version: str = "v2") -> Route:
    """The order endpoint, without replies yet: chain `fail_first(...)`, `respond(...)`."""
    token_route(stub)
    return stub.expect("GET", f"/{version}/orders/{{order_id}}", name="order")


def serve_order(stub: HttpStub, version: str = "v2") -> Route:
    return order_route(stub, version).respond(json=BODIES[version])
