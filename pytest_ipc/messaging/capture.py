"""Thread-safe record of delivered messages that a test can wait on without sleeping.

`CaptureRecord` is the record and the wording of its verdicts, shared by `Capture` (waits block the
calling thread) and `aio.Capture` (waits are coroutines).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.messaging.message import Message

if TYPE_CHECKING:
    from pytest_ipc.protobuf import ProtoSchema
    from pytest_ipc.specs.asyncapi import DocumentSource

RECHECK = 0.05
"""Seconds between checks of a predicate when nothing arrives (it may look at other state)."""

Predicate = Callable[[list[Message]], bool]


class CaptureRecord:
    """Collects messages as a consumer receives them, from any thread; wakes whoever waits."""

    def __init__(self, address: str, name: str | None = None) -> None:
        self.address = address
        self.name = name  # the channel's name before the namespace, as the test (and a document) calls it
        self._messages: list[Message] = []
        self._changed = threading.Condition()
        self._listeners: list[Callable[[], None]] = []

    def add(self, message: Message) -> None:
        """Record a message (from any thread) and wake whoever waits."""
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()
            listeners = list(self._listeners)
        for wake in listeners:
            wake()

    @property
    def messages(self) -> list[Message]:
        """A snapshot, in arrival order."""
        with self._changed:
            return list(self._messages)

    @property
    def bodies(self) -> list[bytes]:
        """The bodies of `messages`, in arrival order."""
        return [message.body for message in self.messages]

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)

    def assert_conforms(
        self,
        document: DocumentSource,
        channel: str | None = None,
        *,
        message: str | None = None,
        proto: ProtoSchema | None = None,
        proto_types: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Every message captured so far conforms to the AsyncAPI `document`'s channel this capture
        listens on: the one whose address is the capture's name (before the namespace), else its full
        address, else `channel` (an id) when given; see `messaging.conformance.assert_channel_conforms`.
        Returns the declared message each one is."""
        from pytest_ipc.messaging.conformance import assert_channel_conforms
        from pytest_ipc.specs.asyncapi import asyncapi_channels

        channels = asyncapi_channels(document)
        names = [name for name in (self.name, self.address) if name]
        where = next((name for name in names if channels.find(name) is not None), names[0])
        return assert_channel_conforms(
            channels.document, self.messages, channel or where, address=where, message=message, proto=proto, proto_types=proto_types
        )

    def _listen(self, wake: Callable[[], None]) -> None:
        with self._changed:
            self._listeners.append(wake)

    def _unlisten(self, wake: Callable[[], None]) -> None:
        with self._changed:
            self._listeners.remove(wake)

    def _check(self, predicate: Predicate) -> list[Message] | None:
        """The messages if `predicate` holds for them, else None."""
        with self._changed:
            return list(self._messages) if predicate(self._messages) else None

    def _not_met(self, timeout: float) -> IpcAssertionError:
        messages = self.messages
        return IpcAssertionError(
            f"{self.address}: condition not met within {timeout} s; "
            f"{len(messages)} message(s) arrived: {_summary(messages)}"
        )

    def _count_not_met(self, count: int, error: AssertionError) -> IpcAssertionError:
        return IpcAssertionError(f"expected {count} message(s): {error}")

    def _ids_not_met(self, message_ids: set[str], error: AssertionError) -> IpcAssertionError:
        missing = sorted(message_ids - {m.message_id for m in self.messages})
        return IpcAssertionError(f"missing {len(missing)} id(s) {missing[:10]}: {error}")


class Capture(CaptureRecord):
    """A `CaptureRecord` whose `wait_for*` block the calling thread until a condition holds."""

    def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> list[Message]:
        """Block until `predicate(messages)` is true; fail (IpcAssertionError) with what arrived otherwise.

        The predicate is checked on every arrival and every `RECHECK` seconds, so it may also look at
        state outside this capture (another consumer's capture, a probe's effects)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._not_met(timeout)
                self._changed.wait(min(remaining, RECHECK))
            return list(self._messages)

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[Message]:
        """Block until at least `count` messages arrived."""
        try:
            return self.wait_for(lambda messages: len(messages) >= count, timeout)
        except AssertionError as error:
            raise self._count_not_met(count, error) from None

    def wait_for_ids(self, message_ids: Iterable[str], timeout: float = 10.0) -> list[Message]:
        """Block until every one of `message_ids` arrived at least once."""
        wanted = set(message_ids)
        try:
            return self.wait_for(lambda messages: wanted <= {m.message_id for m in messages}, timeout)
        except AssertionError as error:
            raise self._ids_not_met(wanted, error) from None


def _summary(messages: list[Message], limit: int = 10) -> str:
    shown = ", ".join(repr(message.body[:40]) for message in messages[:limit])
    return f"[{shown}{', ...' if len(messages) > limit else ''}]"
