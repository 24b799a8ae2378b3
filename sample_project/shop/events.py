"""Order events, published to every subscriber (Redis pub/sub: fan-out, at most once).

Pub/sub keeps nothing for a subscriber that is away: events published while the broker restarts are
lost. Work that must not be lost goes through the work queue (`work_queue.py`) instead.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Self

import redis

from .background import BackgroundLoop


@dataclass(frozen=True)
class OrderEvent:
    kind: str  # "order.placed", "order.shipped", ...
    order_id: int
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> OrderEvent:
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> OrderEvent:
        """Tolerant: takes the fields it knows, ignores any others."""
        return cls(str(data["kind"]), int(str(data["order_id"])), str(data["event_id"]), str(data["occurred_at"]))


class OrderEventPublisher:
    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.client = client
        self.channel = channel

    def publish(self, event: OrderEvent) -> int:
        """Send the event; returns how many subscribers received it."""
        return int(self.client.publish(self.channel, event.to_json()))


class OrderEventSubscriber(BackgroundLoop):
    """Calls `handler` for every event on `channel`, on its own thread; resubscribes after a broker restart."""

    def __init__(self, client: redis.Redis, channel: str, handler: Callable[[OrderEvent], None]) -> None:
        super().__init__(f"subscriber-{channel}")
        self.client = client
        self.channel = channel
        self.handler = handler
        self.subscribed = threading.Event()

    def start(self, timeout: float = 5.0) -> Self:
        super().start()
        if not self.subscribed.wait(timeout):
            self.stop()
            raise TimeoutError(f"could not subscribe to {self.channel} within {timeout} s")
        return self

    def disconnected(self) -> None:
        self.subscribed.clear()

    def step(self) -> None:
        with self.client.pubsub() as pubsub:
            pubsub.subscribe(self.channel)
            while not self.stopping:
                message = pubsub.get_message(timeout=0.05)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self.subscribed.set()
                elif message["type"] == "message":
                    self.handler(OrderEvent.from_json(message["data"]))
