"""The channels, operations and messages of an AsyncAPI 2.6 or 3.0 document (the one owner of that reading).

Both versions read the same way here: a channel by its address, a message by its name on that
channel, and for each message whether the application the document describes *sends* it (2.6
`subscribe`, 3.0 `action: send`: consumers read it) or *receives* it (2.6 `publish`, 3.0
`action: receive`: publishers write it). A message no operation mentions has no known role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pytest_ipc.specs.document import ApiDocument, SpecError
from pytest_ipc.specs.openapi_model import escape

Role = Literal["sends", "receives"]
_VERB_ROLES: dict[str, Role] = {"subscribe": "sends", "publish": "receives"}  # AsyncAPI 2.x, from the application's side
_ACTION_ROLES: dict[str, Role] = {"send": "sends", "receive": "receives"}


@dataclass
class ChannelMessage:
    """One message on one channel: where it sits (pointer to the resolved message) and who sends it."""

    channel: str  # the address
    name: str
    pointer: str
    node: Mapping[str, Any]
    roles: set[Role]

    @property
    def label(self) -> str:
        return f"channel {self.channel} message {self.name}"

    @property
    def payload_pointer(self) -> str | None:
        """The pointer of the payload's JSON schema, or None when there is none (or it is not JSON Schema)."""
        payload = self.node.get("payload")
        if payload is None or not _json_schema(str(self.node.get("schemaFormat", ""))):
            return None
        if isinstance(payload, Mapping) and "schemaFormat" in payload and "schema" in payload:  # 3.0 multi-format
            return f"{self.pointer}/payload/schema" if _json_schema(str(payload["schemaFormat"])) else None
        return f"{self.pointer}/payload"


@dataclass(frozen=True)
class ChannelOperation:
    """One operation: what the application does on which channel, and its id."""

    role: Role
    channel: str
    name: str


@dataclass
class AsyncApiModel:
    """Every channel address, operation and message of a document."""

    document: ApiDocument
    channels: dict[str, str]  # address -> pointer
    operations: dict[tuple[Role, str], ChannelOperation]
    messages: dict[tuple[str, str], ChannelMessage]  # (address, name)


def read_asyncapi(document: ApiDocument) -> AsyncApiModel:
    """The model of an AsyncAPI document, whichever of 2.6 and 3.0 it is."""
    if document.kind != "asyncapi":
        raise SpecError(f"{document.source} is an {document.kind} document; an AsyncAPI document is needed here")
    model = AsyncApiModel(document, {}, {}, {})
    if document.version.startswith("2."):
        _read_2(model)
    else:
        _read_3(model)
    return model


def _json_schema(schema_format: str) -> bool:
    return not schema_format or "schema+json" in schema_format or "schema+yaml" in schema_format or "aai" in schema_format


def _message_name(node: Mapping[str, Any], raw: Any, fallback: str) -> str:
    for key in ("name", "messageId"):
        if isinstance(node.get(key), str):
            return str(node[key])
    if isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str):
        return str(raw["$ref"]).rsplit("/", 1)[-1]
    return fallback


def _add(model: AsyncApiModel, channel: str, pointer: str, raw: Any, fallback: str, role: Role | None) -> None:
    target, node = model.document.follow(pointer)
    if not isinstance(node, Mapping):
        return
    name = _message_name(node, raw, fallback)
    message = model.messages.setdefault((channel, name), ChannelMessage(channel, name, target, node, set()))
    if role is not None:
        message.roles.add(role)


def _read_2(model: AsyncApiModel) -> None:
    document = model.document
    for address in document.raw.get("channels") or {}:
        channel_pointer, channel = document.follow(f"#/channels/{escape(str(address))}")
        model.channels[str(address)] = channel_pointer
        for verb, role in _VERB_ROLES.items():
            operation = channel.get(verb) if isinstance(channel, Mapping) else None
            if not isinstance(operation, Mapping):
                continue
            name = str(operation.get("operationId") or f"{verb} {address}")
            model.operations[(role, str(address))] = ChannelOperation(role, str(address), name)
            message_pointer = f"{channel_pointer}/{verb}/message"
            message = document.resolve(operation.get("message"))
            if isinstance(message, Mapping) and isinstance(message.get("oneOf"), list):
                for index, raw in enumerate(message["oneOf"]):
                    _add(model, str(address), f"{document.follow(message_pointer)[0]}/oneOf/{index}", raw, f"{name}#{index}", role)
            elif message is not None:
                _add(model, str(address), message_pointer, operation.get("message"), name, role)


def _read_3(model: AsyncApiModel) -> None:
    document = model.document
    addresses: dict[str, str] = {}  # channel pointer -> address
    for key in document.raw.get("channels") or {}:
        pointer, channel = document.follow(f"#/channels/{escape(str(key))}")
        address = str(channel.get("address") or key) if isinstance(channel, Mapping) else str(key)
        addresses[pointer] = address
        model.channels[address] = pointer
        for name, raw in ((channel.get("messages") or {}) if isinstance(channel, Mapping) else {}).items():
            _add(model, address, f"{pointer}/messages/{escape(str(name))}", raw, str(name), None)
    for operation_id, raw_operation in (document.raw.get("operations") or {}).items():
        operation = document.resolve(raw_operation)
        role = _ACTION_ROLES.get(str(operation.get("action"))) if isinstance(operation, Mapping) else None
        reference = operation.get("channel", {}).get("$ref") if role and isinstance(operation.get("channel"), Mapping) else None
        if role is None or not isinstance(reference, str):
            continue
        channel_pointer = document.follow(reference)[0]
        address = addresses.get(channel_pointer, channel_pointer)
        model.operations[(role, address)] = ChannelOperation(role, address, str(operation_id))
        listed = {
            document.follow(str(item["$ref"]))[0]
            for item in operation.get("messages") or []
            if isinstance(item, Mapping) and isinstance(item.get("$ref"), str)
        }
        for message in model.messages.values():
            if message.channel == address and (not listed or message.pointer in listed):
                message.roles.add(role)
