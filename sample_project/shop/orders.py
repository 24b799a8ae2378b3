"""What the shop needs to know about an order, read tolerantly from /v1 or /v2 of the orders API.

The readers take only the fields the shop uses and ignore everything else, so the provider may add
fields (or reorder them) without breaking the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OrderView:
    id: int
    status: str
    sku: str
    quantity: int
    total_cents: int
    currency: str
    stale: bool = False  # served from the fallback cache, not fresh from the API


def read_v1(data: dict[str, Any]) -> OrderView:
    # v1 totals are decimal euros; round, do not truncate, when turning them into cents
    return OrderView(int(data["id"]), str(data["status"]), str(data["sku"]), int(data["quantity"]),
                     round(float(data["total"]) * 100), "EUR")


def read_v2(data: dict[str, Any]) -> OrderView:
    first_item = data["items"][0]
    total = data["total"]
    return OrderView(int(data["id"]), str(data["status"]), str(first_item["sku"]), int(first_item["quantity"]),
                     int(total["amount_cents"]), str(total.get("currency", "EUR")))


READERS = {"v1": read_v1, "v2": read_v2}
