"""What a message provider publishes, in the shape the Pact verifier wants to see."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PublishedMessage:
    """A message as it leaves the producer: its bytes, content type and metadata (headers)."""

    body: bytes
    content_type: str = "application/json"
    metadata: dict[str, Any] = field(default_factory=dict)


def as_published(value: Any) -> PublishedMessage:
    """Accept what producers naturally return: a PublishedMessage, bytes, text or a JSON value."""
    if isinstance(value, PublishedMessage):
        return value
    if isinstance(value, bytes | bytearray):
        return PublishedMessage(bytes(value), "application/octet-stream")
    if isinstance(value, str):
        content_type = "application/xml" if value.lstrip().startswith("<") else "text/plain"
        return PublishedMessage(value.encode(), content_type)
    return PublishedMessage(json.dumps(value).encode())
