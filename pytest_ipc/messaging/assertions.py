"""Delivery verdicts: nothing lost (also across a consumer crash and a broker restart), exactly one
effect per message however often it arrives, and a poison message that ends in the dead-letter queue.

Each verdict fails with an `IpcAssertionError` that says what was expected, what was measured and,
where the evidence shows it, which defect of the client explains it; it names a defect only when the
evidence (a crash that fired, a restart between two batches, attempts counted) points at it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.messaging.faults import CrashMidProcessing
from pytest_ipc.messaging.message import Delivery, Handler, Message

SHOWN = 20
"""How many ids a failure message lists before it abbreviates."""

Ids = Iterable[Message | str]
"""Messages, or their message ids."""


def _ids(items: Ids) -> list[str]:
    return [item.message_id if isinstance(item, Message) else item for item in items]


def _listing(ids: Iterable[str]) -> str:
    ordered = sorted(ids)
    more = f" ... and {len(ordered) - SHOWN} more" if len(ordered) > SHOWN else ""
    return ", ".join(ordered[:SHOWN]) + more


def assert_nothing_lost(sent: Ids, received: Ids, *, crash: CrashMidProcessing[Any] | None = None) -> None:
    """Every sent message id was received at least once (duplicates are not loss); also flags ids that
    arrived but were never sent.

    `crash`: the `CrashMidProcessing` fault the consumer ran under. It must have fired; a message it
    crashed on that never came back names the defect: the consumer acknowledged before processing."""
    sent_ids, received_ids = set(_ids(sent)), set(_ids(received))
    if crash is not None and not crash.fired:
        raise IpcAssertionError(
            f"the consumer crash was injected at processing call {crash.at} but never fired "
            f"(measured {crash.calls} call(s)): the consumer processed fewer messages than that, so "
            "the test proves nothing; publish more messages or crash earlier"
        )
    missing, unexpected = sent_ids - received_ids, received_ids - sent_ids
    if not missing and not unexpected:
        return
    lines = [f"expected every one of {len(sent_ids)} sent message(s) to arrive; {len(missing)} lost"]
    if crash is not None and crash.crashed_on in missing and crash.crashed_on not in crash.seen_after_crash:
        lines.append(
            f"  {crash.crashed_on} was being processed when the consumer crashed and was never delivered "
            "again: the consumer acknowledged it before processing it (ack before processing); "
            "acknowledge a message only after its work is done"
        )
    if missing:
        lines.append(f"  missing: {_listing(missing)}")
    if unexpected:
        lines.append(f"  received but never sent ({len(unexpected)}): {_listing(unexpected)}")
    raise IpcAssertionError("\n".join(lines))


def assert_nothing_lost_across_restart(before: Ids, after: Ids, received: Ids) -> None:
    """Nothing lost across a broker restart: `before` are the messages the publisher reported as sent
    before the broker went down, `after` those published once it served again, `received` what the
    consumer got. Losses before the restart point at a publisher that does not wait for publisher
    confirms; all of `after` missing points at a consumer that did not reconnect."""
    before_ids, after_ids, received_ids = set(_ids(before)), set(_ids(after)), set(_ids(received))
    lost_before, lost_after = before_ids - received_ids, after_ids - received_ids
    if not lost_before and not lost_after:
        return
    lines = [
        f"expected every message sent before ({len(before_ids)}) and after ({len(after_ids)}) the broker "
        f"restart to arrive; {len(lost_before)} and {len(lost_after)} lost"
    ]
    if after_ids and lost_after == after_ids:
        lines.append(
            f"  none of the {len(after_ids)} message(s) published after the restart arrived: the consumer "
            "did not reconnect after the broker restart; reconnect and consume again when the "
            "connection drops"
        )
    elif lost_after:
        lines.append(f"  {len(lost_after)} of the message(s) published after the restart were lost")
    if lost_before and lost_after != after_ids:
        lines.append(
            f"  {len(lost_before)} message(s) reported as sent before the restart never arrived: the "
            "publisher does not wait for publisher confirms; a message is safe only once the broker "
            "confirmed it, so wait for the confirm and republish what was unconfirmed when the "
            "connection drops"
        )
    if lost_before:
        lines.append(f"  lost before the restart: {_listing(lost_before)}")
    if lost_after:
        lines.append(f"  lost after the restart: {_listing(lost_after)}")
    raise IpcAssertionError("\n".join(lines))


def assert_exactly_once_effect(effects: Iterable[str], message_ids: Ids) -> None:
    """`effects` names the message id behind each side effect performed; each message must have
    exactly one. Fails naming duplicated, missing and unexpected effects."""
    counts, expected = Counter(effects), set(_ids(message_ids))
    duplicated = {message_id: n for message_id, n in counts.items() if n > 1}
    missing = expected - set(counts)
    unexpected = set(counts) - expected
    if not duplicated and not missing and not unexpected:
        return
    lines = [
        f"expected exactly one effect per message; measured {sum(counts.values())} effect(s) for "
        f"{len(expected)} message(s)"
    ]
    if duplicated:
        shown = sorted(duplicated.items())[:SHOWN]
        lines.append(
            f"  {len(duplicated)} message(s) took effect more than once: the consumer is not idempotent "
            "under duplicate delivery; remember the ids of messages already handled and skip repeats"
        )
        lines.append("  duplicated: " + ", ".join(f"{message_id} x{n}" for message_id, n in shown))
    if missing:
        lines.append(f"  missing: {_listing(missing)}")
    if unexpected:
        lines.append(f"  for unknown messages: {_listing(unexpected)}")
    raise IpcAssertionError("\n".join(lines))


def assert_poison_dead_lettered(
    poison: Message | str,
    *,
    attempts: Iterable[str],
    dead_lettered: Ids,
    others: Ids,
    processed: Ids,
    max_attempts: int,
) -> None:
    """A message the consumer can never process ends in the dead-letter queue after at most
    `max_attempts` attempts, and the `others` published around it are processed.

    `attempts` has one message id per processing attempt (failed or not), `dead_lettered` what the
    dead-letter queue received, `processed` what was handled successfully."""
    poison_id = _ids([poison])[0]
    tries = Counter(attempts)[poison_id]
    in_dead_letters = poison_id in set(_ids(dead_lettered))
    blocked = set(_ids(others)) - set(_ids(processed))
    problems = []
    if tries > max_attempts:
        problems.append(
            f"  it was attempted {tries} times, more than max_attempts={max_attempts}"
            + ("" if in_dead_letters else ", and never dead-lettered")
            + ": the consumer requeues a message it can never process (redelivered forever, a poison "
            "message without dead-lettering); after a few attempts reject it without requeue, so the "
            "broker moves it to a dead-letter queue"
        )
    elif not in_dead_letters:
        problems.append(
            f"  it was attempted {tries} time(s) and never reached the dead-letter queue: it was dropped "
            "(acked, or rejected where no dead-letter queue is configured)"
        )
    if blocked:
        problems.append(
            f"  {len(blocked)} other message(s) were never processed: the poison message blocks the "
            f"queue; missing: {_listing(blocked)}"
        )
    if problems:
        raise IpcAssertionError(
            f"expected poison message {poison_id} in the dead-letter queue after at most {max_attempts} "
            "attempt(s), and the other messages processed\n" + "\n".join(problems)
        )


class IdempotencyProbe:
    """Records the side effects a consumer performs, keyed by message id, from any thread."""

    def __init__(self) -> None:
        self._effects: list[str] = []
        self._lock = threading.Lock()

    def record(self, message_id: str) -> None:
        """Record one side effect of the message `message_id`."""
        with self._lock:
            self._effects.append(message_id)

    @property
    def effects(self) -> list[str]:
        """The message id of every side effect recorded, in order."""
        with self._lock:
            return list(self._effects)

    def assert_exactly_once(self, message_ids: Ids) -> None:
        """`assert_exactly_once_effect` over the recorded effects."""
        assert_exactly_once_effect(self.effects, message_ids)


class IdempotencyClaims:
    """Which message ids were claimed: the first delivery of an id claims it, repeats are `skipped`;
    shared by the sync `IdempotentConsumer` and `aio.IdempotentConsumer`."""

    def __init__(self) -> None:
        self.skipped: list[str] = []
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def _claim(self, message_id: str) -> bool:
        """True for the first delivery of `message_id`; False (and counted as skipped) for repeats."""
        with self._lock:
            if message_id in self._claimed:
                self.skipped.append(message_id)
                return False
            self._claimed.add(message_id)
            return True

    def _release(self, message_id: str) -> None:
        """A failed attempt gives its claim back, so a redelivery can still succeed."""
        with self._lock:
            self._claimed.discard(message_id)


class IdempotentConsumer(IdempotencyClaims):
    """Wraps a handler so each message id takes effect once: duplicates are acked and skipped. A failed
    attempt releases its claim, so a redelivery can still succeed."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler

    def __call__(self, delivery: Delivery) -> None:
        message_id = delivery.message.message_id
        if not self._claim(message_id):
            delivery.ack()
            return
        try:
            self.handler(delivery)
        except BaseException:
            self._release(message_id)
            raise
