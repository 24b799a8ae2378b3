"""Message pacts cross-checked against the AsyncAPI document of their provider (the one owner of that check).

A consumer's pact says what messages it expects; the provider's AsyncAPI document says what it sends.
Every message interaction must name a channel the document declares (in its metadata: `channel`,
`topic`, `destination`, `subject`, `queue`, `routing_key`, `routingKey` or `address`, by id or by
concrete address, or through `channel_of`), and its example contents must conform to one of that
channel's messages, read as the message says (`pytest_ipc.specs.payloads`). Pacts of every version
are read by `pactfile`: V3 `messages`, V4 `Asynchronous/Messages` (contents with their content type,
base64 when binary) and the request of `Synchronous/Messages`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ipc.contracts.errors import ContractError
from pytest_ipc.contracts.pactfile import Document, Interaction, describe, entries, interaction_kind, load_pact, pair_of
from pytest_ipc.specs.asyncapi import DocumentSource, MessageSpec, asyncapi_channels
from pytest_ipc.specs.document import ApiDocument
from pytest_ipc.specs.payloads import PayloadChecker

if TYPE_CHECKING:
    from pytest_ipc.protobuf import ProtoSchema

__all__ = ["CHANNEL_KEYS", "assert_pact_matches_asyncapi"]

CHANNEL_KEYS = ("channel", "topic", "destination", "subject", "queue", "routing_key", "routingKey", "address")
"""Metadata keys that name an interaction's channel, in the order they are looked at."""

ChannelOf = Callable[[Interaction], str | None]
"""Names the channel of an interaction whose metadata uses other keys."""


def assert_pact_matches_asyncapi(
    pact: str | os.PathLike[str] | Document,
    document: DocumentSource,
    *,
    channel_of: ChannelOf | None = None,
    proto: ProtoSchema | None = None,
    proto_types: Mapping[str, str] | None = None,
) -> int:
    """Every message interaction of `pact` (a path or a loaded pact) names a channel `document` declares
    and its contents conform to one of that channel's messages; returns how many were checked.

    Fails (`ContractError`) with one line per interaction that does not, naming it, the channel, and
    where its contents break which schema. A pact without message interactions fails too: nothing
    would have been checked."""
    loaded = load_pact(Path(pact)) if isinstance(pact, str | os.PathLike) else pact
    consumer, provider = pair_of(loaded)
    channels = asyncapi_channels(document)
    title = channels.document.title
    mismatches: list[str] = []
    checked = 0
    for _, interaction in entries(loaded):
        kind = interaction_kind(interaction)
        if kind not in ("Asynchronous/Messages", "Synchronous/Messages"):
            continue
        checked += 1
        part = interaction.get("request") if kind == "Synchronous/Messages" else interaction
        body, content_type, metadata = _contents(part if isinstance(part, Mapping) else {}, interaction)
        name = channel_of(interaction) if channel_of is not None else _channel_name(metadata)
        who = describe(interaction)
        if name is None:
            mismatches.append(f"{who} names no channel: its metadata has none of {', '.join(CHANNEL_KEYS)}")
            continue
        found = channels.find(name)
        if found is None:
            known = ", ".join(channel.label for channel in channels.channels.values()) or "none"
            mismatches.append(f"{who} is on channel {name!r}, which {title} does not declare; its channels: {known}")
            continue
        spec = found[0]
        if not spec.messages:
            mismatches.append(f"{who} is on channel {spec.label}, which declares no messages")
            continue
        per_message = {
            declared.id: _problems(channels.document, declared, body, content_type, proto, (proto_types or {}).get(declared.id))
            for declared in spec.messages
        }
        if all(per_message.values()):
            mismatches.extend(
                f"{who} on channel {spec.label}: {'as ' + declared + ': ' if len(per_message) > 1 else ''}{problem}"
                for declared, problems in per_message.items()
                for problem in problems
            )
    if not checked:
        raise ContractError(f"{consumer} -> {provider}: the pact has no message interactions to check against {title}", [])
    if mismatches:
        raise ContractError(f"{consumer} -> {provider}: message interactions that {title} does not allow:", mismatches)
    return checked


def _contents(part: Mapping[str, Any], interaction: Interaction) -> tuple[bytes, str | None, Mapping[str, Any]]:
    """The example's bytes, its content type (None when the pact does not say) and its metadata."""
    metadata = part.get("metadata") or interaction.get("metadata") or {}
    contents = part.get("contents")
    content_type = metadata.get("contentType") or metadata.get("content-type")
    if isinstance(contents, Mapping) and "content" in contents and "contentType" in contents:  # V4
        content_type = contents["contentType"] or content_type
        encoded, contents = contents.get("encoded"), contents["content"]
        if isinstance(contents, str) and isinstance(encoded, str) and encoded.lower() == "base64":
            return base64.b64decode(contents), content_type, metadata
    if isinstance(contents, str):
        return contents.encode(), content_type, metadata
    return json.dumps(contents).encode(), content_type, metadata


def _channel_name(metadata: Mapping[str, Any]) -> str | None:
    for key in CHANNEL_KEYS:
        if isinstance(metadata.get(key), str) and metadata[key]:
            return str(metadata[key])
    return None


def _problems(
    document: ApiDocument, declared: MessageSpec, body: bytes, content_type: str | None, proto: ProtoSchema | None, proto_type: str | None
) -> list[str]:
    """Why `body` is not `declared` (its content type, then its payload); empty when it is."""
    if content_type is not None and _base(content_type) != _base(declared.content_type):
        return [f"content type {content_type} is not the message's {declared.content_type}"]
    checker = PayloadChecker(document, declared, proto=proto, proto_type=proto_type)
    return [violation.describe() for violation in checker.violations(body)]


def _base(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()
