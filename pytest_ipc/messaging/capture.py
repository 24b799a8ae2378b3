"""Thread-safe record of delivered messages that a test can wait on without sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pytest_ipc.messaging.message import Message

RECHECK_S = 0.05


class Capture:
    """Collects messages as a consumer thread receives them; `wait_for*` block until a condition holds."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._messages: list[Message] = []
        self._changed = threading.Condition()

    def add(self, message: Message) -> None:
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()

    @property
    def messages(self) -> list[Message]:
        """A snapshot, in arrival order."""
        with self._changed:
            return list(self._messages)

    @property
    def bodies(self) -> list[bytes]:
        return [message.body for message in self.messages]

    def wait_for(self, predicate: Callable[[list[Message]], bool], timeout: float = 10.0) -> list[Message]:
        """Block until `predicate(messages)` is true; raise AssertionError with what arrived otherwise.

        The predicate is checked on every arrival and every `RECHECK_S`, so it may also look at state
        outside this capture (another consumer's capture, a probe's effects)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.address}: condition not met within {timeout} s; "
                        f"{len(self._messages)} message(s) arrived: {_summary(self._messages)}"
                    )
                self._changed.wait(min(remaining, RECHECK_S))
            return list(self._messages)

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[Message]:
        """Block until at least `count` messages arrived."""
        try:
            return self.wait_for(lambda messages: len(messages) >= count, timeout)
        except AssertionError as error:
            raise AssertionError(f"expected {count} message(s): {error}") from None

    def wait_for_ids(self, message_ids: set[str], timeout: float = 10.0) -> list[Message]:
        """Block until every one of `message_ids` arrived at least once."""
        try:
            return self.wait_for(lambda messages: message_ids <= {m.message_id for m in messages}, timeout)
        except AssertionError as error:
            missing = sorted(message_ids - {m.message_id for m in self.messages})
            raise AssertionError(f"missing {len(missing)} id(s) {missing[:10]}: {error}") from None

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)


def _summary(messages: list[Message], limit: int = 10) -> str:
    shown = ", ".join(repr(message.body[:40]) for message in messages[:limit])
    return f"[{shown}{', ...' if len(messages) > limit else ''}]"
