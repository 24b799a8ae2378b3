"""Breaking changes between two versions of an AsyncAPI document (2.6 or 3.0), per role.

A message the application *sends* is read by consumers: a field they read that the new version
stops sending (removed, no longer required, retyped, made nullable) breaks them. A message the
application *receives* is written by publishers: a new required field, a narrowed type or enum
breaks the publishers that do not send it. A message whose role is unknown gets both checks. Each
finding's message says whom it breaks; `schema_diff` owns the comparison of the payloads, and
`asyncapi` the reading of both documents. Channels pair up by address, messages by name.
"""

from __future__ import annotations

from pytest_ipc.specs.asyncapi import AsyncApiChannels, MessageSpec, OperationSpec, Role, asyncapi_channels
from pytest_ipc.specs.document import Source, load_document
from pytest_ipc.specs.findings import ApiFinding, document_label, raise_on_errors
from pytest_ipc.specs.schema_diff import DocumentPair, Flow, Roles

ADVICE = (
    "Keep what the other side relies on (fields consumers read stay sent and required, new fields "
    "publishers must send stay optional), or publish the change on a new channel or major version."
)
_FLOWS: dict[frozenset[Role], tuple[Flow, str, str]] = {
    frozenset({"sends"}): ("out", "the application", "consumers"),
    frozenset({"receives"}): ("in", "publishers", "the application"),
}


def asyncapi_changes(old: Source, new: Source) -> list[ApiFinding]:
    """Every change from `old` to `new` that breaks (errors) or may break (warnings) a publisher or consumer."""
    before, after = asyncapi_channels(load_document(old)), asyncapi_channels(load_document(new))
    pair = DocumentPair(before.document, after.document)
    old_messages, new_messages = _messages(before), _messages(after)
    new_operations = {(operation.role, address) for address, operation in _operations(after)}
    new_addresses = {address for address, _ in new_messages} | {address for address, _ in _operations(after)} | _addresses(after)
    findings: list[ApiFinding] = []
    for address in _addresses(before) - new_addresses:
        findings.append(
            ApiFinding(f"channel {address}", "channel-removed", "error", "channel removed; its publishers and consumers lose it")
        )
    for address, operation in _operations(before):
        if address in new_addresses and (operation.role, address) not in new_operations:
            whom = (
                "consumers waiting for its messages get none"
                if operation.role == "sends"
                else "publishers sending to it are no longer read"
            )
            findings.append(
                ApiFinding(
                    f"channel {address} operation {operation.id}",
                    "operation-removed",
                    "error",
                    f"the application no longer {operation.role[:-1]}s on it; {whom}",
                )
            )
    for (address, name), message in old_messages.items():
        label = _label(address, name)
        if address not in new_addresses:
            continue
        if (address, name) not in new_messages:
            findings.append(ApiFinding(label, "message-removed", "error", f"message removed; {_whom(message.roles)}"))
            continue
        findings += _message_changes(pair, label, message, new_messages[(address, name)])
    return sorted(set(findings))


def _address(channel_id: str, address: str | None) -> str:
    return address or channel_id


def _addresses(channels: AsyncApiChannels) -> set[str]:
    return {_address(channel.id, channel.address) for channel in channels.channels.values()}


def _operations(channels: AsyncApiChannels) -> list[tuple[str, OperationSpec]]:
    return [
        (_address(channel.id, channel.address), operation) for channel in channels.channels.values() for operation in channel.operations
    ]


def _messages(channels: AsyncApiChannels) -> dict[tuple[str, str], MessageSpec]:
    """Messages by channel address and message name (its `name`, else its id)."""
    return {
        (_address(channel.id, channel.address), message.name or message.id): message
        for channel in channels.channels.values()
        for message in channel.messages
    }


def _label(address: str, name: str) -> str:
    return f"channel {address} message {name}"


def assert_asyncapi_compatible(old: Source, new: Source) -> list[ApiFinding]:
    """Fail with every change from `old` to `new` that breaks a publisher or consumer; return the warnings."""
    before, after = load_document(old), load_document(new)
    return raise_on_errors(
        f"{document_label(after)} breaks publishers or consumers of {document_label(before)}", asyncapi_changes(before, after), ADVICE
    )


def _whom(roles: frozenset[Role]) -> str:
    if roles == {"sends"}:
        return "consumers waiting for it get nothing they understand"
    if roles == {"receives"}:
        return "publishers that send it are no longer understood"
    return "its publishers and consumers lose it"


def _message_changes(pair: DocumentPair, label: str, old: MessageSpec, new: MessageSpec) -> list[ApiFinding]:
    flow, writers, readers = _FLOWS.get(old.roles | new.roles, ("both", "publishers", "consumers"))
    findings: list[ApiFinding] = []
    old_node, new_node = pair.old.at(old.pointer), pair.new.at(new.pointer)
    old_type, new_type = old_node.get("contentType"), new_node.get("contentType")
    if old_type is not None and new_type is not None and old_type != new_type:
        findings.append(
            ApiFinding(
                label, "message-content-type-changed", "error", f"contentType changed from {old_type} to {new_type}; {_whom(old.roles)}"
            )
        )
    old_payload, new_payload = _json_payload(old), _json_payload(new)
    if old_payload is not None and new_payload is not None:
        comparison = pair.comparison(flow, Roles("message-field", writers, readers))
        findings += comparison.compare(pair.old.at(old_payload), pair.new.at(new_payload), f"{label} payload", "$")
    if old.headers_pointer is not None and new.headers_pointer is not None:
        comparison = pair.comparison(flow, Roles("message-header", writers, readers))
        findings += comparison.compare(old_node["headers"], new_node["headers"], f"{label} headers", "$")
    return findings


def _json_payload(message: MessageSpec) -> str | None:
    """The payload's pointer when it is a JSON Schema (Avro and Protobuf payloads are not compared here)."""
    return message.payload_pointer if message.payload_format == "jsonschema" else None
