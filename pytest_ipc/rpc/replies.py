"""What an RPC method answers: response message(s), then a status with details and trailing metadata.

A message is whatever the transport encodes (a protobuf message, or a dict of its fields that the
transport converts); the core never looks inside. One reply serves every kind of method: a unary or
client-streaming method sends `messages[0]`, a server-streaming or bidirectional one sends them all,
then the status. A failing status with messages is an abort mid-stream (the messages go first).
A reply with `each` answers a stream of requests as they arrive instead: `each(request)` gives the
message(s) for one request (a bidirectional chat), then the status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from pytest_ipc.rpc.codes import PUSHBACK_KEY, check_code
from pytest_ipc.rpc.errors import RpcUsageError

Metadata = Mapping[str, str] | Iterable[tuple[str, str]]


def metadata_pairs(metadata: Metadata | None) -> tuple[tuple[str, str], ...]:
    """Metadata as (lower-case key, value) pairs, in order."""
    if metadata is None:
        return ()
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    return tuple((str(key).lower(), str(value)) for key, value in items)


@dataclass(frozen=True)
class RpcReply:
    """One canned answer: `messages` sent in order, then `code` (a status name), `details`, `trailing_metadata`."""

    messages: tuple[object, ...] = ()
    code: str = "OK"
    details: str = ""
    trailing_metadata: tuple[tuple[str, str], ...] = ()
    each: Callable[[object], object] | None = None  # request -> a message, a dict, a list of them or None

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", check_code(self.code))
        if not isinstance(self.details, str):
            raise RpcUsageError(f"details must be a str, got {self.details!r}")
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "trailing_metadata", metadata_pairs(self.trailing_metadata))

    @classmethod
    def of(cls, answer: object) -> RpcReply:
        """A reply from itself, or one OK reply carrying `answer` (a message, or a dict of its fields)."""
        return answer if isinstance(answer, RpcReply) else cls(messages=(answer,))

    @classmethod
    def failure(cls, code: str, details: str = "", *, trailing_metadata: Metadata | None = None, pushback: float | None = None) -> RpcReply:
        """A failing status; `pushback` (seconds) adds `grpc-retry-pushback-ms`: when the client may retry."""
        pairs = metadata_pairs(trailing_metadata)
        if pushback is not None:
            if isinstance(pushback, bool) or not isinstance(pushback, (int, float)) or pushback < 0:
                raise RpcUsageError(f"pushback must be seconds >= 0, got {pushback!r}")
            pairs += ((PUSHBACK_KEY, str(round(pushback * 1000))),)
        return cls(code=code, details=details, trailing_metadata=pairs)

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    def cut(self, after: int, failure: RpcReply) -> RpcReply:
        """This reply's first `after` messages, then `failure`'s status (a stream aborted midway)."""
        return replace(failure, messages=self.messages[:after])

    def describe(self) -> str:
        sent = f"{len(self.messages)} message(s), " if len(self.messages) != 1 else ""
        return f"{sent}{self.code}" + (f" {self.details!r}" if self.details else "")


ReplyCallback = Callable[..., object]  # the call's request(s) -> a message, a dict or an RpcReply
