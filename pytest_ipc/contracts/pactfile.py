"""Reading pact files and merging fragments of them.

Pact files are JSON; this module knows just enough of the V3/V4 layout to list interactions, tell
their kind, and merge the interactions several processes recorded into one file per pair.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HTTP_KINDS = {"Synchronous/HTTP"}
MESSAGE_KINDS = {"Asynchronous/Messages", "Synchronous/Messages"}
LOCK_NAME = ".pytest-ipc.lock"


@dataclass(frozen=True)
class PactInteractionRef:
    """Where one interaction lives: enough to collect it as a test and to filter the verifier."""

    pact_file: Path
    consumer: str
    provider: str
    description: str
    kind: str
    states: tuple[str, ...]

    @property
    def test_id(self) -> str:
        return f"{self.consumer} -> {self.provider}: {self.description}"

    @property
    def is_message(self) -> bool:
        return self.kind in MESSAGE_KINDS


def load_pact(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read pact file {path}: {error}") from error
    if not isinstance(document, dict) or "consumer" not in document or "provider" not in document:
        raise ValueError(f"{path} is not a pact file: it has no consumer and provider")
    return document


def interactions_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """All interactions, whatever the spec version (V3 message pacts keep them under "messages")."""
    return [*document.get("interactions", []), *document.get("messages", [])]


def interaction_kind(interaction: dict[str, Any]) -> str:
    if "type" in interaction:
        return str(interaction["type"])
    return "Asynchronous/Messages" if "contents" in interaction else "Synchronous/HTTP"


def interaction_states(interaction: dict[str, Any]) -> tuple[str, ...]:
    states = interaction.get("providerStates") or []
    if "providerState" in interaction:
        states = [{"name": interaction["providerState"]}]
    return tuple(state["name"] for state in states)


def content_of(body: object) -> object:
    """The example value of a body or message: V4 wraps it as {"content", "contentType", ...}."""
    if isinstance(body, dict) and "content" in body and "contentType" in body:
        return body["content"]
    return body


def pact_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.json") if path.is_file())


def interaction_refs(path: Path) -> list[PactInteractionRef]:
    """Every interaction of one pact file."""
    document = load_pact(path)
    return [
        PactInteractionRef(
            pact_file=path,
            consumer=document["consumer"]["name"],
            provider=document["provider"]["name"],
            description=interaction["description"],
            kind=interaction_kind(interaction),
            states=interaction_states(interaction),
        )
        for interaction in interactions_of(document)
    ]


def discover(directory: Path, provider: str, consumers: Iterable[str] | None = None) -> list[PactInteractionRef]:
    """Every interaction with `provider` in the pact files of `directory`, in a stable order."""
    wanted_consumers = set(consumers) if consumers is not None else None
    return [
        ref
        for path in pact_files(directory)
        for ref in interaction_refs(path)
        if ref.provider == provider and (wanted_consumers is None or ref.consumer in wanted_consumers)
    ]


def interaction_key(interaction: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """Pact's own identity for an interaction: its kind, description and provider states."""
    return interaction_kind(interaction), interaction["description"], interaction_states(interaction)


def merge_documents(documents: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One pact holding the interactions of all `documents` (same pair), deduplicated and sorted.

    Sorting makes the merged file independent of which xdist worker ran which test.
    """
    merged: dict[str, Any] | None = None
    by_key: dict[tuple[str, str, tuple[str, ...]], dict[str, Any]] = {}
    for document in documents:
        if merged is None:
            merged = {key: value for key, value in document.items() if key not in ("interactions", "messages")}
        for interaction in interactions_of(document):
            by_key.setdefault(interaction_key(interaction), interaction)
    if merged is None:
        raise ValueError("nothing to merge")
    merged["interactions"] = [by_key[key] for key in sorted(by_key)]
    return merged


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock over `directory`, for writers in other processes (other pytest runs)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def write_atomically(path: Path, document: dict[str, Any]) -> None:
    """Replace `path` in one step, so a reader never sees half a pact."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pact-", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
