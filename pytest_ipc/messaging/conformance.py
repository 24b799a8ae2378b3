"""Messages on a broker channel checked against the AsyncAPI document that declares the channel.

The one owner of that verdict: `assert_channel_conforms` takes the messages (a capture's, or any
others), finds the channel by its id or by the concrete address they travelled on (matching the
address's `{parameters}` and checking their values), and reads each payload as its message says
(`pytest_ipc.specs.payloads`: JSON, XML, text, Avro, Protobuf). Captures call it as
`capture.assert_conforms(document)`. A message conforms when it satisfies one of the messages the
channel may carry; a failure names each offending message (its index in the capture, its address, a
preview of its bytes) and, per message the channel declares, where it breaks the schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.messaging.message import Message
from pytest_ipc.specs.asyncapi import AsyncApiChannels, ChannelSpec, DocumentSource, asyncapi_channels
from pytest_ipc.specs.payloads import PayloadChecker
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation

if TYPE_CHECKING:
    from pytest_ipc.protobuf import ProtoSchema

__all__ = ["ChannelConformanceError", "OffendingMessage", "assert_channel_conforms"]

SHOWN_MESSAGES = 10
"""How many offending messages a failure lists before it abbreviates."""
SHOWN_VIOLATIONS = 5
"""How many violations per declared message a failure lists."""
PREVIEW = 80
"""How many bytes of a payload a failure shows."""


@dataclass(frozen=True)
class OffendingMessage:
    """One message that conforms to none of its channel's messages, and why, per declared message."""

    index: int  # in the messages checked (a capture's arrival order)
    address: str
    message: Message
    violations: Mapping[str, list[SchemaViolation]]  # declared message id -> how the payload breaks it

    def describe(self) -> str:
        """The lines a failure message shows for it."""
        body = self.message.body
        preview = repr(body[:PREVIEW]) + ("..." if len(body) > PREVIEW else "")
        lines = [f"  message [{self.index}] on {self.address} (id {self.message.message_id}): {preview}"]
        for declared, found in self.violations.items():
            prefix = f"as {declared}: " if len(self.violations) > 1 else ""
            shown = [f"    {prefix}{violation.describe()}" for violation in found[:SHOWN_VIOLATIONS]]
            more = [f"    {prefix}... and {len(found) - SHOWN_VIOLATIONS} more"] if len(found) > SHOWN_VIOLATIONS else []
            lines.extend(shown + more)
        return "\n".join(lines)


class ChannelConformanceError(IpcAssertionError):
    """Messages on a channel that its AsyncAPI document does not allow; `offending` lists each one."""

    def __init__(self, text: str, offending: list[OffendingMessage]) -> None:
        super().__init__(text)
        self.offending = offending


def assert_channel_conforms(
    document: DocumentSource,
    messages: Iterable[Message | bytes],
    channel: str,
    *,
    address: str | None = None,
    message: str | None = None,
    proto: ProtoSchema | None = None,
    proto_types: Mapping[str, str] | None = None,
) -> list[str]:
    """Every one of `messages` conforms to a message the document declares on `channel`; returns, for
    each, the id of the declared message it conforms to.

    `channel` is the channel's id or a concrete address (`.../event/sl-1/lighting/measured`), whose
    parameter values are then checked too; `address` names where the messages travelled, for failure
    messages. `message` narrows the check to one declared message. Protobuf payloads whose `.proto` is
    not in the document are read with `proto`, and `proto_types` names the message type per declared
    message where the document does not. Fails (`ChannelConformanceError`) naming each offending
    message; no messages at all also fails, since nothing was checked."""
    channels = asyncapi_channels(document)
    spec, values = channels.get(channel)
    if not values and address is not None:
        values = spec.match(address) or {}
    where = address or channel
    checked = [each if isinstance(each, Message) else Message(each) for each in messages]
    heading = f"channel {spec.label} of {channels.document.title}"
    if not checked:
        raise IpcAssertionError(
            f"no message on {where} to check against {heading}: nothing was checked; "
            "wait for the messages first (capture.wait_for_count(n))"
        )
    candidates = [spec.message(message)] if message is not None else list(spec.messages)
    types = proto_types or {}
    checkers = {
        declared.id: PayloadChecker(channels.document, declared, proto=proto, proto_type=types.get(declared.id))
        for declared in candidates
    }
    problems = _parameter_problems(channels, spec, values, where)
    conforming: list[str] = []
    offending: list[OffendingMessage] = []
    for index, each in enumerate(checked):
        found: dict[str, list[SchemaViolation]] = {}
        for declared, checker in checkers.items():
            violations = checker.violations(each.body)
            if not violations:
                conforming.append(declared)
                break
            found[declared] = violations
        else:
            offending.append(OffendingMessage(index, where, each, found))
    if not offending and not problems:
        return conforming
    allowed = f"its message {candidates[0].id}" if len(candidates) == 1 else f"one of its messages {', '.join(checkers)}"
    lines = [
        f"expected every message on {where} to conform to {allowed} ({heading}); "
        f"{len(offending)} of {len(checked)} do not" + (", and the address breaks the channel's parameters" if problems else "")
    ]
    lines.extend(problems)
    lines.extend(item.describe() for item in offending[:SHOWN_MESSAGES])
    if len(offending) > SHOWN_MESSAGES:
        lines.append(f"  ... and {len(offending) - SHOWN_MESSAGES} more message(s)")
    lines.append("fix the publisher to send what the document declares, or the document if it is the one out of date")
    raise ChannelConformanceError("\n".join(lines), offending)


def _parameter_problems(channels: AsyncApiChannels, spec: ChannelSpec, values: Mapping[str, str], where: str) -> list[str]:
    """One line per parameter value in the address that its parameter does not allow."""
    problems: list[str] = []
    document = channels.document
    for name, value in values.items():
        pointer = spec.parameters.get(name)
        if pointer is None:
            continue
        parameter = document.at(pointer)
        if "schema" in parameter:  # 2.x: a schema; 3.0: enum (and default, examples)
            broken = [violation.message for violation in SchemaValidator(document, f"{pointer}/schema").violations(value)]
        else:
            allowed = parameter.get("enum")
            broken = [f"{value!r} is not one of {allowed}"] if isinstance(allowed, list) and value not in allowed else []
        problems.extend(f"  address {where}: parameter {name}: {problem} (parameter {pointer})" for problem in broken)
    return problems
