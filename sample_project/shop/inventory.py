"""Stock reservations over request/reply: requests carry a reply-to address and a correlation id.

The client keeps one reply queue and a listener thread that hands each reply to the caller waiting
for its correlation id, so many threads can reserve at once. Replies nobody waits for (late answers
to calls that timed out, duplicates) are counted and dropped: never given to the wrong caller.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import redis

from .background import BackgroundLoop

POLL = 0.05  # seconds a listener blocks for news, so stop() is noticed
REPLY_QUEUE_TTL = 60  # seconds a reply queue outlives its last reply


class ReservationTimeout(TimeoutError):
    """No reply within the client's timeout."""


class InventoryUnavailable(ConnectionError):
    """The request could not even be sent: the broker is unreachable."""


@dataclass(frozen=True)
class Reservation:
    sku: str
    quantity: int
    reserved: bool
    remaining: int
    correlation_id: str


class InventoryClient(BackgroundLoop):
    def __init__(self, client: redis.Redis, requests_queue: str, timeout: float = 1.0) -> None:
        super().__init__("inventory-replies")
        self.client = client
        self.requests_queue = requests_queue
        self.reply_to = f"{requests_queue}:replies:{uuid.uuid4().hex}"
        self.timeout = timeout
        self.discarded = 0
        self._waiting: dict[str, Future[Reservation]] = {}
        self._lock = threading.Lock()

    def reserve(self, sku: str, quantity: int) -> Reservation:
        correlation_id = uuid.uuid4().hex
        waiting: Future[Reservation] = Future()
        with self._lock:
            self._waiting[correlation_id] = waiting
        request = {"correlation_id": correlation_id, "reply_to": self.reply_to, "sku": sku, "quantity": quantity}
        try:
            self.client.lpush(self.requests_queue, json.dumps(request))
            return waiting.result(self.timeout)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise InventoryUnavailable(f"cannot reach the inventory broker: {error}") from error
        except FutureTimeout:
            raise ReservationTimeout(f"no reservation reply for {sku} x{quantity} within {self.timeout} s") from None
        finally:
            with self._lock:
                self._waiting.pop(correlation_id, None)

    def step(self) -> None:
        popped = self.client.brpop([self.reply_to], timeout=POLL)
        if popped is not None:
            self._dispatch(json.loads(popped[1]))

    def _dispatch(self, reply: dict[str, Any]) -> None:
        with self._lock:
            waiting = self._waiting.pop(str(reply.get("correlation_id")), None)
        if waiting is None:
            self.discarded += 1
            return
        waiting.set_result(Reservation(str(reply["sku"]), int(reply["quantity"]), bool(reply["reserved"]),
                                       int(reply["remaining"]), str(reply["correlation_id"])))


Reply = tuple[str, dict[str, Any]]
"""Where a reply goes (the request's reply-to) and what it says."""


class InventoryResponder(BackgroundLoop):
    """Serves reservation requests on a thread from an in-memory stock.

    `deliver` is how replies leave (by default straight to the reply-to queue); tests wrap it to
    duplicate or reorder replies the way retries and parallel responders do."""

    def __init__(self, client: redis.Redis, requests_queue: str, stock: dict[str, int]) -> None:
        super().__init__("inventory-responder")
        self.client = client
        self.requests_queue = requests_queue
        self.stock = dict(stock)
        self.served = 0
        self.deliver: Callable[[Reply], object] = self.send_reply

    def send_reply(self, reply: Reply) -> None:
        reply_to, body = reply
        with self.client.pipeline() as pipe:
            pipe.lpush(reply_to, json.dumps(body))
            pipe.expire(reply_to, REPLY_QUEUE_TTL)
            pipe.execute()

    def step(self) -> None:
        popped = self.client.brpop([self.requests_queue], timeout=POLL)
        if popped is not None:
            request = json.loads(popped[1])
            self.deliver((request["reply_to"], self._reserve(request)))

    def _reserve(self, request: dict[str, Any]) -> dict[str, Any]:
        sku, quantity = str(request["sku"]), int(request["quantity"])
        available = self.stock.get(sku, 0)
        reserved = 0 < quantity <= available
        if reserved:
            self.stock[sku] = available - quantity
        self.served += 1
        return {"correlation_id": request["correlation_id"], "sku": sku, "quantity": quantity,
                "reserved": reserved, "remaining": self.stock.get(sku, 0)}
