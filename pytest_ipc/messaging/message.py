"""The broker-neutral message every adapter publishes and delivers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pytest_ipc._errors import IpcUsageError

Settlement = Literal["ack", "requeue", "reject"]


def new_id() -> str:
    """A fresh, globally unique id for messages and correlations."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Message:
    """What travels on a channel. Ids default to fresh UUIDs so every published message is traceable
    in `assert_nothing_lost` and `assert_exactly_once_effect`."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    correlation_id: str | None = None
    reply_to: str | None = None
    message_id: str = field(default_factory=new_id)


class Settled:
    """One delivery's bookkeeping, shared by the sync `Delivery` and `aio.Delivery`: settled at most once."""

    def __init__(self, message: Message, redelivered: bool) -> None:
        self.message = message
        self.redelivered = redelivered
        self.settlement: Settlement | None = None

    @property
    def settled(self) -> bool:
        """Whether the delivery was acked or nacked."""
        return self.settlement is not None

    def _check_unsettled(self) -> None:
        if self.settlement is not None:
            raise IpcUsageError(
                f"message {self.message.message_id} is already settled ({self.settlement}); settle each delivery once"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, redelivered={self.redelivered}, settlement={self.settlement})"


class Delivery(Settled):
    """One delivery of a message to a consumer, settled at most once.

    `nack(requeue=True)` asks the broker to deliver it again; `nack(requeue=False)` rejects it (to the
    dead-letter queue when the channel has one). A handler that returns without settling acks.
    """

    def __init__(self, message: Message, redelivered: bool, settle: Callable[[Settlement], None]) -> None:
        super().__init__(message, redelivered)
        self._settle = settle

    def ack(self) -> None:
        """The message is handled: the broker may forget it."""
        self._finish("ack")

    def nack(self, requeue: bool = True) -> None:
        """Not handled: deliver it again (`requeue`), or reject it (to the dead-letter queue, if any)."""
        self._finish("requeue" if requeue else "reject")

    def _finish(self, settlement: Settlement) -> None:
        self._check_unsettled()
        self._settle(settlement)
        self.settlement = settlement


Handler = Callable[[Delivery], None]
"""A consumer: gets each delivery on the subscription's own thread."""
