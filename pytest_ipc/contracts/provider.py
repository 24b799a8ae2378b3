"""Provider tests as pytest items: one item per interaction, plus one for what this session writes.

(Collection and bookkeeping only: the plugin imports this module in every session, so pact-python
stays out of it; `verification.PactCase` runs the verifier.)

At collection every pact is parsed once (`PactLibrary`); an item names its interaction by identity
(see `pactfile`), and at run time it verifies a pact cut down to that interaction, so the cost of an
item does not depend on the size of the pact. Consumer tests run in the same session change the
pacts after collection: an item of a pair this session writes reads the session's merge of them
(`PactRecorder.pair_merges`, after the consumer tests ran, waiting for other xdist workers), and the
`SessionInteractions` item verifies the interactions no item was collected for (a fresh checkout
has no pact on disk at collection). Nothing to verify at all fails, unless the test allows it.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.errors import NoPactsFound, PactConflict
from pytest_ipc.contracts.merge import MergeResult, SessionFacts
from pytest_ipc.contracts.pactfile import Document, Interaction, PactInteractionRef
from pytest_ipc.contracts.recorder import PactRecorder, Pair

CONSUMER_WAIT_TIMEOUT = 600.0


@dataclass(frozen=True)
class SessionInteractions:
    """The parameter of the item that verifies the interactions this session writes for `provider`
    that no item was collected for (and that reports "no pacts" when there is nothing at all)."""

    provider: str
    consumers: frozenset[str] | None
    directory: Path
    where: str
    covered: frozenset[tuple[str, str]]
    collected_any: bool
    allow_missing: bool

    @property
    def test_id(self) -> str:
        return f"{self.provider}: pacts this session writes"


@dataclass
class PactLibrary:
    """The pacts read at collection, parsed once per process, and where to cut them for the verifier."""

    scratch: Callable[[], Path]
    documents: dict[Path, Document] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)
    _indexes: dict[Path, dict[str, tuple[str, Interaction]]] = field(default_factory=dict)
    _cuts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def discover(self, directory: Path, provider: str, consumers: frozenset[str] | None) -> list[PactInteractionRef]:
        """Every interaction with `provider` in `directory`'s pacts; other JSON files are skipped
        with a warning (never a collection error)."""
        pacts, others = pactfile.scan(directory)
        for problem in others:
            if problem not in self.warned:
                self.warned.add(problem)
                warnings.warn(
                    pytest.PytestCollectionWarning(f"{problem}; ignored. Keep only pact files in the pact directory."), stacklevel=1
                )
        refs: list[PactInteractionRef] = []
        for path, document in pacts:
            self.documents.setdefault(path, document)
            refs += _wanted(pactfile.refs_of(path, self.documents[path]), provider, consumers)
        return refs

    def add(
        self, path: Path, document: Document, provider: str, consumers: frozenset[str] | None, *, pending: bool
    ) -> list[PactInteractionRef]:
        self.documents[path] = document
        return _wanted(pactfile.refs_of(path, document, pending=pending), provider, consumers)

    def find(self, ref: PactInteractionRef) -> tuple[Document, str, Interaction]:
        document = self.documents[ref.pact_file]
        index = self._indexes.get(ref.pact_file)
        if index is None:
            index = self._indexes[ref.pact_file] = _index(document)
        container, interaction = index[ref.identity]
        return document, container, interaction

    def cut(self, document: Document, container: str, interaction: Interaction) -> Path:
        path = self.scratch() / f"{next(self._cuts):06d}.json"
        pactfile.write_cut(path, document, container, interaction)
        return path


def _wanted(refs: list[PactInteractionRef], provider: str, consumers: frozenset[str] | None) -> list[PactInteractionRef]:
    return [ref for ref in refs if ref.provider == provider and (consumers is None or ref.consumer in consumers)]


def _index(document: Document) -> dict[str, tuple[str, Interaction]]:
    return {pactfile.identity_of(interaction): (container, interaction) for container, interaction in pactfile.entries(document)}


@dataclass
class ProviderSession:
    """Per process: the pacts read at collection, and this session's own pacts, per provider."""

    recorder: PactRecorder
    library: PactLibrary
    facts: Callable[[], SessionFacts]
    writers: Callable[[str], set[str]]  # provider -> node ids of the consumer tests that may write it
    other_workers: frozenset[str]  # xdist workers that may run them (none: one process, no waiting)
    pending_notes: dict[Path, str] = field(default_factory=dict)  # a broker pact's file -> why the broker calls it pending
    _views: dict[str, dict[Pair, tuple[Path, MergeResult]]] = field(default_factory=dict)

    def view(self, provider: str) -> dict[Pair, tuple[Path, MergeResult]]:
        """This session's pacts with `provider`, as the session-end merge will write them."""
        if provider not in self._views:
            writers = self.writers(provider)
            if self.other_workers and writers:
                self.recorder.wait_for(writers, CONSUMER_WAIT_TIMEOUT, set(self.other_workers))
            pairs = {pair for record in self.recorder.records() for pair in record.pairs if pair[1] == provider}
            self._views[provider] = self.recorder.pair_merges(pairs, self.facts()) if pairs else {}
        return self._views[provider]

    def fed_by_session(self, directory: Path) -> bool:
        return directory.resolve() == self.recorder.pact_dir

    def targets(self, param: PactInteractionRef | SessionInteractions) -> list[tuple[PactInteractionRef, Path]]:
        """What one item verifies: (interaction, one-interaction pact file) pairs."""
        if isinstance(param, SessionInteractions):
            return self._session_targets(param)
        pair = (param.consumer, param.provider)
        view = self.view(param.provider) if self.fed_by_session(param.pact_file.parent) else {}
        if pair not in view:
            collected, container, interaction = self.library.find(param)
            return [(param, self.library.cut(collected, container, interaction))]
        target, result = view[pair]
        merged = _merged(result)
        if merged is None or (found := _index(merged).get(param.identity)) is None:
            pytest.skip(
                f"{param.test_id} is no longer in the pact: the consumer tests of this session that "
                "write the pair did not write it again"
            )
        container, interaction = found
        ref = replace(param, pact_file=target, pending=interaction.get("pending") is True)
        return [(ref, self.library.cut(merged, container, interaction))]

    def _session_targets(self, param: SessionInteractions) -> list[tuple[PactInteractionRef, Path]]:
        view = self.view(param.provider) if self.fed_by_session(param.directory) else {}
        targets: list[tuple[PactInteractionRef, Path]] = []
        seen_any = False
        for (consumer, _), (target, result) in sorted(view.items()):
            if param.consumers is not None and consumer not in param.consumers:
                continue
            document = _merged(result)
            if document is None:
                continue
            index = _index(document)
            for ref in pactfile.refs_of(target, document):
                seen_any = True
                if (ref.consumer, ref.identity) not in param.covered:
                    container, interaction = index[ref.identity]
                    targets.append((ref, self.library.cut(document, container, interaction)))
        if targets:
            return targets
        if not (param.collected_any or seen_any):
            message = (
                f"no pact with provider {param.provider!r} in {param.where}: expected at least one interaction "
                "to verify, found none, so this run would verify nothing. Run the consumer tests first (or in "
                "the same session), point --ipc-pact-dir or pact_dir= at the pacts, or mark the test "
                f"pact_provider({param.provider!r}, allow_missing=True) if no consumer has a pact yet."
            )
            if param.allow_missing:
                pytest.skip(message)
            raise NoPactsFound(message)
        pytest.skip(f"no interaction with {param.provider!r} is new in this session: each has an item of its own")


def _merged(result: MergeResult) -> Document | None:
    if result.conflicts:
        raise PactConflict("\n".join(result.conflicts))
    return result.document
