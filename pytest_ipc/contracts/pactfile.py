"""Pact files of every spec version (V2, V3, V4): reading, identifying interactions, writing.

This module owns what an interaction *is* for pytest-ipc: its kind, its provider states (with
their parameters) and its identity. A V4 interaction that carries a `key` is identified by it (two
keys are two interactions, whatever their descriptions); any other interaction by its kind,
description and provider states with parameters, so interactions that differ only by a state
parameter stay apart. V3 message pacts keep their interactions under `messages`, the others under
`interactions`; each interaction is written back where it came from.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_ipc.contracts.errors import NotAPact

HTTP_KINDS = {"Synchronous/HTTP"}
MESSAGE_KINDS = {"Asynchronous/Messages", "Synchronous/Messages"}
CONTAINERS = ("interactions", "messages")
# Fields that do not change what an interaction asks of the provider (V4 comments are notes).
NOT_CONTENT = {"comments"}
Interaction = dict[str, Any]
Document = dict[str, Any]


@dataclass(frozen=True)
class ProviderState:
    """One provider state of an interaction; `params_json` is its parameters as canonical JSON."""

    name: str
    params_json: str = ""

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = json.loads(self.params_json) if self.params_json else {}
        return params

    @property
    def label(self) -> str:
        """`an order exists: id=1` — how the state reads in test ids and messages."""
        if not self.params_json:
            return self.name
        values = ", ".join(f"{key}={_plain(value)}" for key, value in self.params.items())
        return f"{self.name}: {values}"


@dataclass(frozen=True)
class PactInteractionRef:
    """One interaction of one pact: enough to collect it as a test and find it again at run time."""

    pact_file: Path
    consumer: str
    provider: str
    description: str
    kind: str
    states: tuple[ProviderState, ...]
    identity: str
    key: str | None = None
    pending: bool = False

    @property
    def test_id(self) -> str:
        """`Web -> Orders: a request for order 1 (given an order exists: id=1)`."""
        given = f" (given {'; '.join(state.label for state in self.states)})" if self.states else ""
        return f"{self.consumer} -> {self.provider}: {self.description}{given}"

    @property
    def is_message(self) -> bool:
        return self.kind in MESSAGE_KINDS


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_pact(path: Path) -> Document:
    """The pact at `path`; `NotAPact` (a ValueError) if it cannot be read or is no pact."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NotAPact(f"cannot read pact file {path}: {error}") from error
    if not is_pact(document):
        raise NotAPact(f"{path} is not a pact file: it has no consumer and provider names")
    return document  # type: ignore[no-any-return]


def is_pact(document: object) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("consumer"), dict)
        and isinstance(document.get("provider"), dict)
        and bool(document["consumer"].get("name"))
        and bool(document["provider"].get("name"))
    )


def pair_of(document: Document) -> tuple[str, str]:
    return str(document["consumer"]["name"]), str(document["provider"]["name"])


def spec_major(document: Document) -> int:
    """The Pact specification's major version (2, 3 or 4) the document declares or implies."""
    metadata = document.get("metadata") or {}
    declared = (metadata.get("pactSpecification") or metadata.get("pact-specification") or {}).get("version")
    if declared:
        return int(str(declared).lstrip("vV").split(".")[0])
    if any("type" in interaction for _, interaction in entries(document)):
        return 4
    return 3 if "messages" in document else 2


def entries(document: Document) -> list[tuple[str, Interaction]]:
    """Every interaction with the key it lives under (`interactions`, or `messages` in V3)."""
    return [(container, interaction) for container in CONTAINERS for interaction in document.get(container) or []]


def interactions_of(document: Document) -> list[Interaction]:
    return [interaction for _, interaction in entries(document)]


def interaction_kind(interaction: Interaction) -> str:
    if "type" in interaction:
        return str(interaction["type"])
    return "Asynchronous/Messages" if "contents" in interaction else "Synchronous/HTTP"


def interaction_states(interaction: Interaction) -> tuple[ProviderState, ...]:
    if interaction.get("providerState"):  # V2: one state, no parameters
        return (ProviderState(str(interaction["providerState"])),)
    return tuple(
        ProviderState(str(state["name"]), canonical(state["params"]) if state.get("params") else "")
        for state in interaction.get("providerStates") or []
    )


def identity_of(interaction: Interaction) -> str:
    """A short stable hash: the V4 `key` if there is one, else kind, description and states."""
    if interaction.get("key"):
        basis: list[Any] = ["key", interaction["key"]]
    else:
        states = [[state.name, state.params_json] for state in interaction_states(interaction)]
        basis = [interaction_kind(interaction), interaction.get("description", ""), states]
    return hashlib.sha256(canonical(basis).encode()).hexdigest()[:16]


def sort_key(interaction: Interaction) -> tuple[str, str, str, str]:
    """A readable, stable order for written files: kind, description, states, key."""
    states = canonical([[state.name, state.params_json] for state in interaction_states(interaction)])
    return interaction_kind(interaction), interaction.get("description", ""), states, interaction.get("key") or ""


def fingerprint(interaction: Interaction) -> str:
    """What the interaction asks of the provider, as canonical JSON (comments left out)."""
    return canonical({name: value for name, value in interaction.items() if name not in NOT_CONTENT})


def describe(interaction: Interaction) -> str:
    """`'a request for order 1' (given an order exists: id=1)` for messages about an interaction."""
    states = interaction_states(interaction)
    given = f" (given {'; '.join(state.label for state in states)})" if states else ""
    key = f" [key {interaction['key']}]" if interaction.get("key") else ""
    return f"{interaction.get('description', '')!r}{given}{key}"


def refs_of(path: Path, document: Document, *, pending: bool = False) -> list[PactInteractionRef]:
    """Every interaction of one pact; `pending` marks them all (a pact the broker says is pending)."""
    consumer, provider = pair_of(document)
    return [
        PactInteractionRef(
            pact_file=path,
            consumer=consumer,
            provider=provider,
            description=str(interaction.get("description", "")),
            kind=interaction_kind(interaction),
            states=interaction_states(interaction),
            identity=identity_of(interaction),
            key=interaction.get("key") or None,
            pending=pending or interaction.get("pending") is True,
        )
        for _, interaction in entries(document)
    ]


def interaction_refs(path: Path) -> list[PactInteractionRef]:
    return refs_of(path, load_pact(path))


def scan(directory: Path) -> tuple[list[tuple[Path, Document]], list[str]]:
    """The pacts among `directory`'s JSON files, and one line per other JSON file (to warn about)."""
    pacts: list[tuple[Path, Document]] = []
    others: list[str] = []
    if not directory.is_dir():
        return pacts, others
    for path in sorted(directory.glob("*.json")):
        if not path.is_file():
            continue
        try:
            pacts.append((path, load_pact(path)))
        except NotAPact as error:
            others.append(str(error))
    return pacts, others


def one_interaction_document(document: Document, container: str, interaction: Interaction) -> Document:
    """The pact `document` cut down to `interaction`: what the verifier reads for one test item."""
    cut = {name: value for name, value in document.items() if name not in CONTAINERS}
    cut[container] = [interaction]
    return cut


def write_cut(path: Path, document: Document, container: str, interaction: Interaction) -> None:
    """Write `document` cut down to `interaction` to `path`: what the verifier reads for one item."""
    path.write_text(json.dumps(one_interaction_document(document, container, interaction)))


def content_of(body: object) -> object:
    """The example value of a body or message: V4 wraps it as {"content", "contentType", ...}."""
    if isinstance(body, dict) and "content" in body and "contentType" in body:
        return body["content"]
    return body


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock over `directory` itself (flock on the directory), for other pytest runs.

    Locking the directory rather than a lock file in it leaves nothing but pacts in the pact
    directory, which other Pact tools read as a whole.
    """
    directory.mkdir(parents=True, exist_ok=True)
    handle = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def write_atomically(path: Path, document: Document) -> None:
    """Replace `path` in one step, so a reader never sees half a pact."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pact-", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
