"""The idempotent consumer for async handlers; its claims are `messaging.assertions.IdempotencyClaims`."""

from __future__ import annotations

from pytest_ipc.messaging.aio.channel import Delivery, Handler
from pytest_ipc.messaging.assertions import IdempotencyClaims


class IdempotentConsumer(IdempotencyClaims):
    """Wraps an async handler so each message id takes effect once (see `messaging.IdempotentConsumer`)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler

    async def __call__(self, delivery: Delivery) -> None:
        message_id = delivery.message.message_id
        if not self._claim(message_id):
            await delivery.ack()
            return
        try:
            await self.handler(delivery)
        except BaseException:
            self._release(message_id)
            raise
