"""The channels and messages an AsyncAPI 2.6 or 3.0 document declares (the one owner of reading them).

Both versions become the same shape: a `ChannelSpec` per channel (its id, its address with
`{parameters}` and the addresses its protocol bindings name, the messages it may carry) and a
`MessageSpec` per message (its id, content type, schema format, and JSON pointers to its payload and
headers, and whether the application *sends* it (2.6 `subscribe`, 3.0 `action: send`: consumers read
it) or *receives* it (2.6 `publish`, 3.0 `action: receive`: publishers write it)). In 2.6 a
channel's messages are those of its `publish` and `subscribe` operations (a `oneOf` lists several);
in 3.0 they are the channel's `messages`, and `operations` (`action: send|receive`) only point at
them. Conformance, example messages, pact checks and the breaking-change check all read this model. A payload in 3.0 may be a
multi-format schema (`{schemaFormat, schema}`); in 2.6 the message says its `schemaFormat`.

Pointers follow the `$ref`s of channels, operations and messages, so a `SchemaValidator` built on
them reports schema paths inside the document (`#/components/messages/lightMeasured/payload/...`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from pytest_ipc.specs.document import ApiDocument, SpecError, load_document
from pytest_ipc.specs.document import pointer_token as escape

__all__ = ["AsyncApiChannels", "ChannelSpec", "DocumentSource", "MessageSpec", "OperationSpec", "Role", "asyncapi_channels"]

PayloadFormat = Literal["jsonschema", "avro", "protobuf"]
DocumentSource = ApiDocument | str | os.PathLike[str] | Mapping[str, Any]
"""A document, or what `load_document` loads one from: a path, YAML or JSON text, a mapping."""
DEFAULT_CONTENT_TYPES: dict[PayloadFormat, str] = {
    "jsonschema": "application/json",
    "avro": "application/octet-stream",
    "protobuf": "application/x-protobuf",
}
"""A message's content type when neither it nor the document's `defaultContentType` says one."""
_JSON_SCHEMA_FORMATS = ("application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml")
_AVRO_FORMATS = ("application/vnd.apache.avro",)
_PROTOBUF_FORMATS = ("application/vnd.google.protobuf", "application/x-protobuf", "application/protobuf")
Role = Literal["sends", "receives"]
"""What the application the document describes does with a message: consumers read what it sends."""
_VERB_ROLES: dict[str, Role] = {"subscribe": "sends", "publish": "receives"}  # 2.x, from the application's side
_ACTION_ROLES: dict[str, Role] = {"send": "sends", "receive": "receives"}
_BOUND_KEYS = ("channel", "topic", "subject")


@dataclass(frozen=True)
class MessageSpec:
    """One message a channel may carry: how to read its payload and which schema it must satisfy."""

    id: str  # the key in the channel's `messages` (3.0) or components, else `name`/`messageId`
    name: str | None  # the message's own `name`, when it has one
    pointer: str  # the message object, after its `$ref`s
    content_type: str  # the message's, else the document's `defaultContentType`, else per payload format
    schema_format: str  # as written, "" for the default (the AsyncAPI JSON Schema dialect)
    payload_pointer: str | None  # the payload schema (the `schema` of a multi-format payload)
    headers_pointer: str | None
    roles: frozenset[Role] = frozenset()  # empty when no operation names the message

    @property
    def payload_format(self) -> PayloadFormat:
        """Which kind of schema the payload is: JSON Schema (any content type), Avro or Protobuf."""
        return payload_format(self.schema_format)

    def called(self, name: str) -> bool:
        """Whether `name` is this message's id or its `name`."""
        return name in (self.id, self.name)


@dataclass(frozen=True)
class OperationSpec:
    """One operation on a channel: whether the application sends or receives there, and the operation's id."""

    role: Role
    id: str


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: its id, its address (with `{parameters}`), its parameters and its messages."""

    id: str
    address: str | None  # None: a 3.0 channel whose address is unknown or dynamic
    pointer: str
    parameters: Mapping[str, str]  # parameter name -> pointer to its parameter object
    messages: tuple[MessageSpec, ...]
    bound: tuple[str, ...] = ()  # addresses its protocol bindings name (`bindings.redis.channel`...)
    operations: tuple[OperationSpec, ...] = ()

    @cached_property
    def _patterns(self) -> list[tuple[re.Pattern[str], list[str]]]:
        """Per address (its own, then those of its bindings): a regex, and its parameters in order."""
        patterns = []
        for address in dict.fromkeys([*([self.address] if self.address is not None else []), *self.bound]):
            parts = re.split(r"\{([^}]+)\}", address)
            regex = "".join(re.escape(part) if even % 2 == 0 else f"(?P<p{even // 2}>.+?)" for even, part in enumerate(parts))
            patterns.append((re.compile(regex), parts[1::2]))
        return patterns

    def match(self, address: str) -> dict[str, str] | None:
        """The parameter values when `address` is one of this channel's addresses, else None."""
        for pattern, names in self._patterns:
            if (found := pattern.fullmatch(address)) is not None:
                return {name: found.group(f"p{index}") for index, name in enumerate(names)}
        return None

    def message(self, name: str) -> MessageSpec:
        """The message called `name` (its id or `name`), or a `SpecError` listing the channel's messages."""
        for message in self.messages:
            if message.called(name):
                return message
        known = ", ".join(message.id for message in self.messages) or "none"
        raise SpecError(f"channel {self.id!r} declares no message {name!r}; its messages: {known}")

    @property
    def label(self) -> str:
        """`lightMeasured (smartylighting/.../{streetlightId}/lighting/measured)` for failure messages."""
        return self.id if self.address in (None, self.id) else f"{self.id} ({self.address})"


@dataclass(frozen=True)
class AsyncApiChannels:
    """The channels of one AsyncAPI document, by id; `find` locates one by id or concrete address."""

    document: ApiDocument
    channels: Mapping[str, ChannelSpec] = field(default_factory=dict)

    def find(self, name: str) -> tuple[ChannelSpec, dict[str, str]] | None:
        """The channel whose id is `name`, or whose address matches it (with the parameter values)."""
        if name in self.channels:
            return self.channels[name], {}
        for channel in self.channels.values():
            if (values := channel.match(name)) is not None:
                return channel, values
        return None

    def get(self, name: str) -> tuple[ChannelSpec, dict[str, str]]:
        """`find`, or a `SpecError` listing the channels the document declares."""
        found = self.find(name)
        if found is None:
            known = ", ".join(channel.label for channel in self.channels.values()) or "none"
            raise SpecError(f"{self.document.title} declares no channel {name!r} (by id or address); its channels: {known}")
        return found


def payload_format(schema_format: str) -> PayloadFormat:
    """The kind of schema a `schemaFormat` names; a `SpecError` lists the supported ones otherwise."""
    base = schema_format.split(";")[0].strip().lower()
    if not base or base.startswith(_JSON_SCHEMA_FORMATS):
        return "jsonschema"
    if base.startswith(_AVRO_FORMATS):
        return "avro"
    if base.startswith(_PROTOBUF_FORMATS):
        return "protobuf"
    supported = ", ".join((*_JSON_SCHEMA_FORMATS, *_AVRO_FORMATS, *_PROTOBUF_FORMATS))
    raise SpecError(f"schemaFormat {schema_format!r} is not supported; supported: {supported}")


def asyncapi_channels(source: DocumentSource) -> AsyncApiChannels:
    """The channels and messages of an AsyncAPI 2.6 or 3.0 document (a path, text, mapping or `ApiDocument`)."""
    document = source if isinstance(source, ApiDocument) else load_document(source)
    if document.kind != "asyncapi":
        raise SpecError(f"{document.source} is an {document.kind} document; an AsyncAPI document is needed here")
    reader = _Reader(document)
    channels = reader.channels_30() if document.dialect == "asyncapi-3.0" else reader.channels_26()
    return AsyncApiChannels(document, channels)


class _Reader:
    """Walks a document; `ApiDocument.follow` keeps every pointer canonical through the containers' `$ref`s."""

    def __init__(self, document: ApiDocument) -> None:
        self.document = document
        default = document.raw.get("defaultContentType")
        self.default_content_type = str(default) if default else None

    def channels_26(self) -> dict[str, ChannelSpec]:
        channels = {}
        for key in self.document.raw.get("channels") or {}:
            pointer, node = self.document.follow(f"#/channels/{escape(key)}")
            messages: dict[str, MessageSpec] = {}  # by pointer: one message in both operations is one message
            operations: list[OperationSpec] = []
            for verb, role in _VERB_ROLES.items():
                if not isinstance(node.get(verb), Mapping):
                    continue
                op_pointer, op = self.document.follow(f"{pointer}/{verb}")
                operations.append(OperationSpec(role, str(op.get("operationId") or f"{verb} {key}")))
                if "message" not in op:
                    continue
                message_pointer, message = self.document.follow(f"{op_pointer}/message")
                alternatives = message.get("oneOf") if isinstance(message, Mapping) else None
                if isinstance(alternatives, list):
                    pointers = [f"{message_pointer}/oneOf/{index}" for index in range(len(alternatives))]
                else:
                    pointers = [message_pointer]
                for index, each in enumerate(pointers):
                    spec = self.message_26(each, verb if len(pointers) == 1 else f"{verb}{index}")
                    known = messages.get(spec.pointer, spec)
                    messages[spec.pointer] = replace(known, roles=known.roles | {role})
            channels[key] = ChannelSpec(
                key, key, pointer, self.parameters(pointer, node), tuple(messages.values()), _bound(node), tuple(operations)
            )
        return channels

    def message_26(self, pointer: str, fallback: str) -> MessageSpec:
        pointer, node = self.document.follow(pointer)
        component = pointer.rsplit("/", 1)[-1] if pointer.startswith("#/components/messages/") else None
        name = node.get("name")
        identifier = node.get("messageId") or name or component or fallback
        return self._message(str(identifier), pointer, node, str(node.get("schemaFormat") or ""), f"{pointer}/payload")

    def channels_30(self) -> dict[str, ChannelSpec]:
        channels = {}
        for key in self.document.raw.get("channels") or {}:
            pointer, node = self.document.follow(f"#/channels/{escape(key)}")
            address = node.get("address")
            messages = []
            for message_key in node.get("messages") or {}:
                message_pointer, message = self.document.follow(f"{pointer}/messages/{escape(message_key)}")
                payload = message.get("payload")
                schema_format, payload_pointer = "", f"{message_pointer}/payload"
                if isinstance(payload, Mapping) and "schema" in payload and "schemaFormat" in payload:
                    schema_format, payload_pointer = str(payload["schemaFormat"]), f"{payload_pointer}/schema"
                messages.append(self._message(str(message_key), message_pointer, message, schema_format, payload_pointer))
            channels[key] = ChannelSpec(
                key, None if address is None else str(address), pointer, self.parameters(pointer, node), tuple(messages), _bound(node)
            )
        return self.operations_30(channels)

    def operations_30(self, channels: dict[str, ChannelSpec]) -> dict[str, ChannelSpec]:
        """The channels with the roles 3.0 `operations` give them and their messages (all of the
        channel's messages when an operation lists none)."""
        by_pointer = {channel.pointer: key for key, channel in channels.items()}
        for operation_id in self.document.raw.get("operations") or {}:
            _, operation = self.document.follow(f"#/operations/{escape(str(operation_id))}")
            role = _ACTION_ROLES.get(str(operation.get("action"))) if isinstance(operation, Mapping) else None
            reference = operation.get("channel") if role is not None else None
            if role is None or not isinstance(reference, Mapping) or not isinstance(reference.get("$ref"), str):
                continue
            key = by_pointer.get(self.document.follow(str(reference["$ref"]))[0])
            if key is None:
                continue
            listed = {
                self.document.follow(str(item["$ref"]))[0]
                for item in operation.get("messages") or []
                if isinstance(item, Mapping) and isinstance(item.get("$ref"), str)
            }
            channel = channels[key]
            messages = tuple(
                replace(message, roles=message.roles | {role}) if not listed or message.pointer in listed else message
                for message in channel.messages
            )
            operations = (*channel.operations, OperationSpec(role, str(operation_id)))
            channels[key] = replace(channel, messages=messages, operations=operations)
        return channels

    def _message(self, identifier: str, pointer: str, node: Mapping[str, Any], schema_format: str, payload: str) -> MessageSpec:
        kind = payload_format(schema_format)  # an unsupported format fails when the document is read
        return MessageSpec(
            id=identifier,
            name=str(node["name"]) if node.get("name") else None,
            pointer=pointer,
            content_type=str(node.get("contentType") or self.default_content_type or DEFAULT_CONTENT_TYPES[kind]),
            schema_format=schema_format,
            payload_pointer=payload if "payload" in node else None,
            headers_pointer=f"{pointer}/headers" if "headers" in node else None,
        )

    def parameters(self, pointer: str, node: Mapping[str, Any]) -> dict[str, str]:
        return {
            name: self.document.follow(f"{pointer}/parameters/{escape(name)}")[0] for name in node.get("parameters") or {}
        }


def _bound(channel: Mapping[str, Any]) -> tuple[str, ...]:
    """The addresses a channel's protocol bindings name: generators (FastStream, for one) give 2.x
    channels a name as key and put the broker address in `bindings.<protocol>.channel|topic|subject`
    (or an AMQP queue's or exchange's `name`)."""
    found: list[str] = []
    bindings = channel.get("bindings")
    for binding in bindings.values() if isinstance(bindings, Mapping) else ():
        if not isinstance(binding, Mapping):
            continue
        found.extend(str(binding[key]) for key in _BOUND_KEYS if isinstance(binding.get(key), str))
        for part in ("queue", "exchange"):
            if isinstance(binding.get(part), Mapping) and binding[part].get("name"):
                found.append(str(binding[part]["name"]))
    return tuple(dict.fromkeys(found))
