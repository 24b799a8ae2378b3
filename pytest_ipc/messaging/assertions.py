"""Delivery assertions: nothing lost, and exactly one effect per message however often it arrives."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from pytest_ipc.messaging.message import Delivery, Handler, Message

SHOWN = 20
"""How many ids a failure message lists before it abbreviates."""


def _ids(items: Iterable[Message | str]) -> list[str]:
    return [item.message_id if isinstance(item, Message) else item for item in items]


def _listing(ids: Iterable[str]) -> str:
    ordered = sorted(ids)
    more = f" ... and {len(ordered) - SHOWN} more" if len(ordered) > SHOWN else ""
    return ", ".join(ordered[:SHOWN]) + more


def assert_nothing_lost(sent: Iterable[Message | str], received: Iterable[Message | str]) -> None:
    """Every sent message id was received at least once (duplicates are not loss); also flags ids that
    arrived but were never sent."""
    sent_ids, received_ids = set(_ids(sent)), set(_ids(received))
    missing, unexpected = sent_ids - received_ids, received_ids - sent_ids
    if missing or unexpected:
        lines = [f"{len(missing)} of {len(sent_ids)} sent message(s) lost"]
        if missing:
            lines.append(f"  missing: {_listing(missing)}")
        if unexpected:
            lines.append(f"  received but never sent ({len(unexpected)}): {_listing(unexpected)}")
        raise AssertionError("\n".join(lines))


def assert_exactly_once_effect(effects: Iterable[str], message_ids: Iterable[Message | str]) -> None:
    """`effects` names the message id behind each side effect performed; each message must have
    exactly one. Fails naming duplicated, missing and unexpected effects."""
    counts, expected = Counter(effects), set(_ids(message_ids))
    duplicated = {message_id: n for message_id, n in counts.items() if n > 1}
    missing = expected - set(counts)
    unexpected = set(counts) - expected
    if duplicated or missing or unexpected:
        lines = [f"effects are not exactly once per message ({sum(counts.values())} effect(s) for {len(expected)} message(s))"]
        if duplicated:
            shown = sorted(duplicated.items())[:SHOWN]
            lines.append("  duplicated: " + ", ".join(f"{message_id} x{n}" for message_id, n in shown))
        if missing:
            lines.append(f"  missing: {_listing(missing)}")
        if unexpected:
            lines.append(f"  for unknown messages: {_listing(unexpected)}")
        raise AssertionError("\n".join(lines))


class IdempotencyProbe:
    """Records the side effects a consumer performs, keyed by message id, from any thread."""

    def __init__(self) -> None:
        self._effects: list[str] = []
        self._lock = threading.Lock()

    def record(self, message_id: str) -> None:
        with self._lock:
            self._effects.append(message_id)

    @property
    def effects(self) -> list[str]:
        with self._lock:
            return list(self._effects)

    def assert_exactly_once(self, message_ids: Iterable[Message | str]) -> None:
        assert_exactly_once_effect(self.effects, message_ids)


class IdempotentConsumer:
    """Wraps a handler so each message id takes effect once: duplicates are acked and skipped. A failed
    attempt releases its claim, so a redelivery can still succeed."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.skipped: list[str] = []
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        message_id = delivery.message.message_id
        with self._lock:
            duplicate = message_id in self._claimed
            if duplicate:
                self.skipped.append(message_id)
            else:
                self._claimed.add(message_id)
        if duplicate:
            delivery.ack()
            return
        try:
            self.handler(delivery)
        except BaseException:
            with self._lock:
                self._claimed.discard(message_id)
            raise
