"""Merging what a session's tests wrote into the pact file of one consumer/provider pair.

Each interaction in a file written by pytest-ipc remembers the tests that wrote it (metadata entry
`pytest-ipc`: the rootdir, relative to the pact directory, and per test node id the identities of
its interactions). That makes partial runs safe: the tests that ran replace exactly their own
interactions, an interaction of a test that did not run stays, and one whose test no longer exists
goes (or, with `prune`, everything this session did not write goes). Two tests that define one
interaction differently are a conflict naming both; nothing is written for that pair then.

The same merge joins the pact files of a suite's shards (`python -m pytest_ipc merge`): each
shard's file is cut back into what each of its tests wrote (`written_by_test`), and the pieces of
every shard are merged as if one session had written them, each piece naming the file it came from.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pytest_ipc.contracts.pactfile import (
    CONTAINERS,
    Document,
    Interaction,
    describe,
    entries,
    fingerprint,
    identity_of,
    pair_of,
    sort_key,
    spec_major,
)

OWNERSHIP = "pytest-ipc"


@dataclass(frozen=True)
class Written:
    """The pact one passing test wrote for the pair (node id relative to the session's rootdir).

    `test` is empty for interactions no pytest-ipc test owns; `origin` names the file the piece came
    from when that is not this session (a shard's pact file), for messages."""

    test: str
    document: Document
    origin: str = ""

    @property
    def shown(self) -> str:
        """The test, and the file it came from when it came from one: for messages."""
        test = self.test or "a test pytest-ipc does not know"
        return f"{test} (in {self.origin})" if self.origin else test


@dataclass(frozen=True)
class SessionFacts:
    """What a merge needs to know about the session: who ran, who is gone, and the rootdir."""

    rootdir: Path
    ran: frozenset[str]
    gone: Callable[[str], bool]
    prune: bool = False


@dataclass
class MergeResult:
    """The pair's new document (None: nothing left, remove the file) or the conflicts found."""

    document: Document | None
    conflicts: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    container: str
    interaction: Interaction
    owners: set[str]
    from_earlier_run: bool
    shown: set[str] = field(default_factory=set)  # the writers as messages name them


def merge_pair(
    pact_dir: Path, old: Document | None, written: list[Written], facts: SessionFacts, *, old_name: str = ""
) -> MergeResult:
    """Merge `written` (this session) into `old` (the pair's file on disk, if any)."""
    written = sorted(written, key=lambda item: (item.test, item.origin))
    conflicts = _version_conflicts(written)
    if conflicts:
        return MergeResult(None, conflicts)
    merged: dict[str, _Entry] = {}
    for container, interaction, owners in _old_entries(pact_dir, old, facts):
        merged[identity_of(interaction)] = _Entry(container, interaction, owners, from_earlier_run=True)
    if old is not None and merged and written and spec_major(old) != spec_major(written[0].document):
        pair = " -> ".join(pair_of(old))
        return MergeResult(None, [(
            f"{pair}: {old_name or 'the pact file'} is a V{spec_major(old)} pact, and "
            f"{', '.join(item.shown for item in written)} wrote V{spec_major(written[0].document)} "
            "interactions for the same pair. Expected one specification version per file. Run every "
            "test of the pair with --ipc-pact-prune to rewrite the file, or delete it."
        )])
    for item in written:
        for container, interaction in entries(item.document):
            identity = identity_of(interaction)
            entry = merged.get(identity)
            owner = {item.test} if item.test else set()
            if entry is None:
                merged[identity] = _Entry(container, interaction, owner, from_earlier_run=False, shown={item.shown})
            elif fingerprint(entry.interaction) == fingerprint(interaction):
                entry.owners |= owner
                entry.shown.add(item.shown)
            else:
                conflicts.append(_conflict(item, interaction, entry, old_name))
    if conflicts:
        return MergeResult(None, conflicts)
    if not merged:
        return MergeResult(None)
    base = written[0].document if written else old
    assert base is not None
    return MergeResult(_document(base, merged, pact_dir, facts.rootdir))


def _version_conflicts(written: list[Written]) -> list[str]:
    versions: dict[int, list[str]] = defaultdict(list)
    for item in written:
        versions[spec_major(item.document)].append(item.shown)
    if len(versions) < 2:
        return []
    pair = " -> ".join(pair_of(written[0].document))
    listed = "; ".join(f"V{version}: {', '.join(tests)}" for version, tests in sorted(versions.items()))
    return [(
        f"{pair}: tests write different Pact specification versions ({listed}). Expected one per pair: "
        "give every Pact of the pair the same with_specification()."
    )]


def _old_entries(pact_dir: Path, old: Document | None, facts: SessionFacts) -> list[tuple[str, Interaction, set[str]]]:
    """The interactions of `old` that stay: not pruned, and owned by a test that did not run and
    still exists (interactions no pytest-ipc test owns stay unless pruned)."""
    if old is None or facts.prune:
        return []
    owners = owners_of(old, pact_dir, facts.rootdir)
    kept: list[tuple[str, Interaction, set[str]]] = []
    for container, interaction in entries(old):
        tests = owners.get(identity_of(interaction))
        if tests is None:
            kept.append((container, interaction, set()))
            continue
        remaining = {test for test in tests if test not in facts.ran and not facts.gone(test)}
        if remaining:
            kept.append((container, interaction, remaining))
    return kept


def owners_of(document: Document, pact_dir: Path, rootdir: Path) -> dict[str, set[str]]:
    """Interaction identity -> node ids (relative to `rootdir`) of the tests that wrote it."""
    entry = (document.get("metadata") or {}).get(OWNERSHIP) or {}
    stored_root = Path(os.path.normpath(pact_dir / entry.get("rootdir", ".")))
    owners: dict[str, set[str]] = defaultdict(set)
    for test, identities in (entry.get("tests") or {}).items():
        nodeid = _rebase(test, stored_root, rootdir)
        for identity in identities:
            owners[identity].add(nodeid)
    return owners


def _rebase(nodeid: str, from_root: Path, to_root: Path) -> str:
    """The node id of the same test seen from another rootdir (its module path re-anchored)."""
    if from_root == to_root:
        return nodeid
    module, separator, rest = nodeid.partition("::")
    moved = PurePosixPath(Path(os.path.relpath(from_root / module, to_root)).as_posix())
    return f"{moved}{separator}{rest}"


def _conflict(item: Written, interaction: Interaction, entry: _Entry, old_name: str) -> str:
    pair = " -> ".join(pair_of(item.document))
    if entry.from_earlier_run:
        where = f" (in {old_name or 'the pact file'}, from an earlier run)"
        others = ", ".join(sorted(entry.owners)) or "a test pytest-ipc does not know"
    else:
        where, others = "", ", ".join(sorted(entry.shown))
    if item.origin:  # shards: a shard may also have kept what an earlier run left in its pact directory
        remedy = (
            "make them identical, or give the interactions different descriptions or provider states; a test "
            "named twice ran in two shards, or one shard kept what an earlier run left in its pact directory: "
            "start every shard with an empty pact directory (--ipc-pact-dir)."
        )
    else:
        remedy = (
            "give the interactions different descriptions or provider states, make them identical, or run "
            "with --ipc-pact-prune to drop what earlier runs wrote."
        )
    return (
        f"{pair}: {describe(interaction)} is defined differently by {item.shown} and by {others}{where}. "
        f"Expected one definition per description and provider states: {remedy}"
    )


def _document(base: Document, merged: dict[str, _Entry], pact_dir: Path, rootdir: Path) -> Document:
    document = {name: value for name, value in base.items() if name not in CONTAINERS}
    ordered = sorted(merged.items(), key=lambda item: sort_key(item[1].interaction))
    for container in CONTAINERS:
        chosen = [entry.interaction for _, entry in ordered if entry.container == container]
        if chosen:
            document[container] = chosen
    tests: dict[str, list[str]] = defaultdict(list)
    for identity, entry in ordered:
        for test in entry.owners:  # interactions no test owns are kept, and owned by none
            tests[test].append(identity)
    metadata = dict(document.get("metadata") or {})
    metadata[OWNERSHIP] = {
        "rootdir": Path(os.path.relpath(rootdir, pact_dir)).as_posix(),
        "tests": {test: sorted(tests[test]) for test in sorted(tests)},
    }
    document["metadata"] = metadata
    return document


def written_by_test(document: Document, origin: str = "") -> list[Written]:
    """`document` cut back into what each test that owns some of its interactions wrote (node ids
    as the file stores them, relative to its rootdir); interactions no test owns come as test "".
    Merging the pieces of several files with `merge_pair` is the merge of one session that ran
    every test of them."""
    entry = (document.get("metadata") or {}).get(OWNERSHIP) or {}
    owned: dict[str, set[str]] = defaultdict(set)
    for test, identities in (entry.get("tests") or {}).items():
        for identity in identities:
            owned[str(test)].add(str(identity))
    claimed = set().union(*owned.values())
    rest = {name: value for name, value in document.items() if name not in CONTAINERS}
    pieces: list[Written] = []
    unowned = [(container, interaction) for container, interaction in entries(document) if identity_of(interaction) not in claimed]
    for test, identities in [*sorted(owned.items()), ("", set())]:
        chosen = unowned if not test else [pair for pair in entries(document) if identity_of(pair[1]) in identities]
        if not chosen:
            continue
        piece = dict(rest)
        for container in CONTAINERS:
            listed = [interaction for where, interaction in chosen if where == container]
            if listed:
                piece[container] = listed
        pieces.append(Written(test, piece, origin))
    return pieces
