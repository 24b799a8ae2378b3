"""How the shop's first version fetched orders: one attempt, no timeout, strict parsing.

Kept so the sample suite can show, as expected failures, what the resilient client protects against.
"""

from __future__ import annotations

from typing import Any

import httpx

from .orders import OrderView

V2_FIELDS = {"id", "status", "customer", "items", "total"}


def fetch_order(base_url: str, token: str, order_id: int) -> OrderView:
    response = httpx.get(f"{base_url}/v2/orders/{order_id}", headers={"authorization": f"Bearer {token}"}, timeout=None)
    response.raise_for_status()
    return read_v2_strictly(response.json())


def read_v2_strictly(data: dict[str, Any]) -> OrderView:
    """Refuses any field it does not know: every provider addition breaks this reader."""
    unknown = set(data) - V2_FIELDS
    if unknown:
        raise ValueError(f"unexpected fields in order: {sorted(unknown)}")
    item = data["items"][0]
    return OrderView(data["id"], data["status"], item["sku"], item["quantity"], data["total"]["amount_cents"],
                     data["total"]["currency"])
