"""Breaking changes between two versions of an AsyncAPI document (2.6 or 3.0), per role.

A message the application *sends* is read by consumers: a field they read that the new version
stops sending (removed, no longer required, retyped, made nullable) breaks them. A message the
application *receives* is written by publishers: a new required field, a narrowed type or enum
breaks the publishers that do not send it. A message whose role is unknown gets both checks. Each
finding's message says whom it breaks; `schema_diff` owns the comparison of the payloads.
"""

from __future__ import annotations

from pytest_ipc.specs.asyncapi_model import ChannelMessage, Role, read_asyncapi
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
    before, after = read_asyncapi(load_document(old)), read_asyncapi(load_document(new))
    pair = DocumentPair(before.document, after.document)
    findings: list[ApiFinding] = []
    for address in before.channels:
        if address not in after.channels:
            findings.append(
                ApiFinding(f"channel {address}", "channel-removed", "error", "channel removed; its publishers and consumers lose it")
            )
    for (role, address), operation in before.operations.items():
        if address in after.channels and (role, address) not in after.operations:
            whom = "consumers waiting for its messages get none" if role == "sends" else "publishers sending to it are no longer read"
            findings.append(
                ApiFinding(
                    f"channel {address} operation {operation.name}",
                    "operation-removed",
                    "error",
                    f"the application no longer {role[:-1]}s on it; {whom}",
                )
            )
    for key, message in before.messages.items():
        if message.channel not in after.channels:
            continue
        if key not in after.messages:
            findings.append(ApiFinding(message.label, "message-removed", "error", f"message removed; {_whom(message.roles)}"))
            continue
        findings += _message_changes(pair, message, after.messages[key])
    return sorted(set(findings))


def assert_asyncapi_compatible(old: Source, new: Source) -> list[ApiFinding]:
    """Fail with every change from `old` to `new` that breaks a publisher or consumer; return the warnings."""
    before, after = load_document(old), load_document(new)
    return raise_on_errors(
        f"{document_label(after)} breaks publishers or consumers of {document_label(before)}", asyncapi_changes(before, after), ADVICE
    )


def _whom(roles: set[Role]) -> str:
    if roles == {"sends"}:
        return "consumers waiting for it get nothing they understand"
    if roles == {"receives"}:
        return "publishers that send it are no longer understood"
    return "its publishers and consumers lose it"


def _message_changes(pair: DocumentPair, old: ChannelMessage, new: ChannelMessage) -> list[ApiFinding]:
    flow, writers, readers = _FLOWS.get(frozenset(old.roles | new.roles), ("both", "publishers", "consumers"))
    findings: list[ApiFinding] = []
    old_type, new_type = old.node.get("contentType"), new.node.get("contentType")
    if old_type is not None and new_type is not None and old_type != new_type:
        findings.append(
            ApiFinding(
                old.label, "message-content-type-changed", "error", f"contentType changed from {old_type} to {new_type}; {_whom(old.roles)}"
            )
        )
    old_payload, new_payload = old.payload_pointer, new.payload_pointer
    if old_payload is not None and new_payload is not None:
        comparison = pair.comparison(flow, Roles("message-field", writers, readers))
        findings += comparison.compare(pair.old.at(old_payload), pair.new.at(new_payload), f"{old.label} payload", "$")
    if "headers" in old.node and "headers" in new.node:
        comparison = pair.comparison(flow, Roles("message-header", writers, readers))
        findings += comparison.compare(old.node["headers"], new.node["headers"], f"{old.label} headers", "$")
    return findings
