"""The orders the service knows: an in-memory store, thread-safe, enough for a sample."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field


@dataclass
class Order:
    id: int
    sku: str
    quantity: int
    unit_price_cents: int
    status: str = "placed"
    currency: str = "EUR"
    customer: str = "anonymous"

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass
class OrderStore:
    orders: dict[int, Order] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sku: str, quantity: int, unit_price_cents: int, customer: str = "anonymous") -> Order:
        with self._lock:
            order = Order(next(self._ids), sku, quantity, unit_price_cents, customer=customer)
            self.orders[order.id] = order
            return order

    def put(self, order: Order) -> Order:
        """Store an order under its own id (provider states set up known orders this way)."""
        with self._lock:
            self.orders[order.id] = order
            return order

    def get(self, order_id: int) -> Order | None:
        return self.orders.get(order_id)

    def clear(self) -> None:
        with self._lock:
            self.orders.clear()
