"""An idempotent consumer: at-least-once delivery means duplicates; the effect must happen once.

The message id is claimed with `SET NX` (expiring after `ttl`) before handling; if the handler
fails, the claim is released so a redelivery can try again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import redis

T = TypeVar("T")


class IdempotentHandler(Generic[T]):
    def __init__(self, client: redis.Redis, seen_prefix: str, handler: Callable[[T], None],
                 message_id: Callable[[T], str], ttl: int = 24 * 3600) -> None:
        self.client = client
        self.seen_prefix = seen_prefix
        self.handler = handler
        self.message_id = message_id
        self.ttl = ttl
        self.duplicates = 0

    def __call__(self, message: T) -> None:
        key = f"{self.seen_prefix}:{self.message_id(message)}"
        if not self.client.set(key, 1, nx=True, ex=self.ttl):
            self.duplicates += 1
            return
        try:
            self.handler(message)
        except BaseException:
            self.client.delete(key)
            raise
