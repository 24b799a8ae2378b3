"""The orders provider itself, over real HTTP: both API versions side by side, behind a token."""

from __future__ import annotations

import httpx
from orders_service import OrderStore, TokenIssuer

from .conftest import SHOP, ClientFactory


def test_every_api_call_needs_a_service_token(orders_api: str) -> None:
    denied = httpx.get(f"{orders_api}/v2/orders/1")
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{orders_api}/health").json() == {"status": "ok"}


def test_v1_and_v2_serve_the_same_order_side_by_side(orders_api: str, make_client: ClientFactory) -> None:
    placed = make_client(orders_api, api_version="v2").place_order("BOOK-1", 3, 1250)
    v1 = make_client(orders_api, api_version="v1").get_order(placed.id)
    v2 = make_client(orders_api, api_version="v2").get_order(placed.id)
    assert v1 == v2 == placed
    assert (v2.total_cents, v2.currency, v2.stale) == (3750, "EUR", False)


def test_unknown_credentials_get_no_token(orders_api: str) -> None:
    answer = httpx.post(f"{orders_api}/auth/token", json={"client_id": SHOP.client_id, "client_secret": "guess"})
    assert answer.status_code == 401


def test_client_fetches_a_new_token_after_key_rotation(
    orders_api: str, make_client: ClientFactory, orders_store: OrderStore, token_issuer: TokenIssuer
) -> None:
    client = make_client(orders_api)
    placed = client.place_order("PEN-2", 1, 199)
    token_issuer.revoke_all()
    assert client.get_order(placed.id) == placed
    assert client.token_refreshes == 1


def test_v2_accepts_orders_without_optional_fields_and_with_unknown_ones(
    orders_api: str, token_issuer: TokenIssuer
) -> None:
    """A robust provider: what it does not need it ignores, what is optional gets its default."""
    token_issuer.accept("robustness-check")
    body = {"items": [{"sku": "CUP-5", "quantity": 1, "unit_price_cents": 300, "gift_note": "hi"}], "channel": "app"}
    answer = httpx.post(f"{orders_api}/v2/orders", json=body, headers={"authorization": "Bearer robustness-check"})
    assert answer.status_code == 201
    assert answer.json()["customer"] == "anonymous"
