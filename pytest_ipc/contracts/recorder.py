"""A session's record of the pacts its tests wrote, merged into the pact directory once at the end.

Every process (the single pytest process, or each xdist worker) keeps, for each test that used a
Pact, one record: the test's node id, whether its call ran and passed, the pairs it declared and,
when it passed, its pact files (written in its own directory under the session's fragments
directory). An xdist worker also writes each record down there for the controller and the other
workers. No two processes touch the same file, records are renamed into place (a reader never sees
half of one), and no write grows with the number of tests. The controlling process merges the records at
session end (`merge.py` decides what each pair's file holds), under a lock on the pact directory.

Provider tests of the same session read the same records (`provider_view`), so a fresh checkout
that writes and verifies its pacts in one run verifies what it wrote.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcError
from pytest_ipc._owner import owner_alive, owner_token

if TYPE_CHECKING:
    from pact import Pact

    from pytest_ipc.contracts import pactfile
    from pytest_ipc.contracts.merge import MergeResult, SessionFacts

# The pact file and merge modules are imported where pacts are merged: a session that records no
# pact (most sessions where the plugin is merely installed) does not load them.

SUMMARY_FILE = "summary.json"
RECORD_SUFFIX = ".record.json"
FRAGMENTS_PREFIX = "pytest-ipc-pacts-"
Pair = tuple[str, str]


@dataclass(frozen=True)
class Record:
    """One test's pact outcome: its pairs, whether its call passed, its pact files if it did."""

    test: str
    called: bool
    passed: bool
    pairs: tuple[Pair, ...]
    pacts: tuple[Path, ...]


@dataclass
class MergeOutcome:
    """What the session-end merge did: files written and removed, conflicts (their pairs are left
    as they were), and the pact directory's JSON files that are not pacts (ignored)."""

    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class PactRecorder:
    """Writes this process's records under `fragments_dir/<worker>/`; merges every process's."""

    def __init__(
        self, pact_dir: Path, fragments_dir: Path, worker: str, rootdir: Path, *, prune: bool = False, shared: bool = False
    ) -> None:
        """`fragments_dir` is shared by every process of the session (see `fragments_path`); it is
        only created once a test makes a pact, so sessions without contracts leave nothing behind.
        `shared`: this process is one of several (an xdist worker) and writes its records down."""
        self.pact_dir = pact_dir.resolve()
        self.shared = shared
        self.fragments_dir = fragments_dir
        self.worker_dir = fragments_dir / worker
        self.rootdir = rootdir.resolve()
        self.prune = prune
        self.called: set[str] = set()
        self.collectors: dict[str, list[str]] = {}
        self.collection_filtered = False  # --lf: module collect reports list only some tests
        self.verified: set[Path] = set()
        self.seen: set[Path] = set()
        self._counter = itertools.count(1)
        self._records: dict[Path, Record] = {}

    # -- consumer side: one record per test ----------------------------------------------------------

    def record(self, test: str, pacts: Iterable[Pact], *, called: bool, passed: bool) -> None:
        """Keep a test's outcome; its pacts only if its call passed (pact-python writes the file
        named after the pair into a staging directory, renamed to a name of its own). An xdist
        worker also writes the record down, for the controller and for the other workers."""
        self._make_worker_dir()
        number = next(self._counter)
        pacts = list(pacts)
        written: list[Path] = []
        if passed:
            staging = self.worker_dir / "staging"
            for index, pact in enumerate(pacts):
                pact.write_file(staging, overwrite=True)
                for produced in staging.iterdir():
                    written.append(produced.rename(self.worker_dir / f"{number:06d}-{index}.pact.json"))
        pairs = tuple(sorted({(pact.consumer, pact.provider) for pact in pacts}))
        self._records[self.worker_dir / f"{number:06d}{RECORD_SUFFIX}"] = Record(test, called, passed, pairs, tuple(written))
        if self.shared:
            raw = {"test": test, "called": called, "passed": passed, "pairs": pairs, "pacts": [path.name for path in written]}
            temporary = self.worker_dir / f".{number:06d}.tmp"
            temporary.write_text(json.dumps(raw))
            temporary.rename(self.worker_dir / f"{number:06d}{RECORD_SUFFIX}")

    def note_called(self, test: str) -> None:
        self.called.add(test)

    def note_collector(self, nodeid: str, children: list[str]) -> None:
        self.collectors[nodeid] = children

    def note_verified(self, pact_file: Path) -> None:
        self.verified.add(pact_file)

    def _make_worker_dir(self) -> None:
        self.fragments_dir.mkdir(mode=0o700, exist_ok=True)
        self.worker_dir.mkdir(mode=0o700, exist_ok=True)

    def scratch_dir(self) -> Path:
        """A directory of this process's own for the one-interaction pacts the verifier reads."""
        self._make_worker_dir()
        scratch = self.worker_dir / "verify"
        scratch.mkdir(exist_ok=True)
        return scratch

    def finish_worker(self, *, contracts_collected: bool = False) -> None:
        """Leave this process's facts (tests called, collection, files verified) for the controller,
        and for provider items on other workers the sign that this worker is done."""
        if not (contracts_collected or self.fragments_dir.is_dir()):
            return
        self._make_worker_dir()
        summary = {
            "called": sorted(self.called),
            "collectors": self.collectors,
            "filtered": self.collection_filtered,
            "verified": sorted(map(str, self.verified)),
        }
        (self.worker_dir / SUMMARY_FILE).write_text(json.dumps(summary))

    # -- reading records (any process) ---------------------------------------------------------------

    def records(self) -> list[Record]:
        """Every record of the session so far: this process's, and those other processes wrote
        down (each file parsed once)."""
        if not self.fragments_dir.is_dir():
            return []
        for worker_dir in sorted(path for path in self.fragments_dir.iterdir() if path.is_dir() and path != self.worker_dir):
            for path in sorted(worker_dir.glob(f"*{RECORD_SUFFIX}")):
                if path not in self._records:
                    raw = json.loads(path.read_text())
                    self._records[path] = Record(
                        test=raw["test"],
                        called=raw["called"],
                        passed=raw["passed"],
                        pairs=tuple((consumer, provider) for consumer, provider in raw["pairs"]),
                        pacts=tuple(worker_dir / name for name in raw["pacts"]),
                    )
        return list(self._records.values())

    def wait_for(self, tests: set[str], timeout: float, other_workers: set[str]) -> None:
        """Until every test in `tests` left its record (they run on the `other_workers`), or every
        other worker is done without running some of them (the session stopped early: -x, Ctrl-C)."""
        deadline = time.monotonic() + timeout
        while missing := tests - {record.test for record in self.records()}:
            listed = ", ".join(sorted(missing))
            if all((self.fragments_dir / worker / SUMMARY_FILE).exists() for worker in other_workers):
                raise IpcError(
                    f"the consumer tests {listed} never ran in this session (did it stop early?), so the "
                    "pacts they write cannot be verified here. Expected every selected consumer test to run "
                    "before the provider tests; run the session to its end."
                )
            if time.monotonic() > deadline:
                raise IpcError(
                    f"waited {timeout:.0f} s for the consumer tests {listed} (on other xdist workers) to "
                    "record their pacts. Expected them to finish first; if they hang, fix them, or run the "
                    "provider tests in a session of their own."
                )
            time.sleep(0.05)

    def pair_merges(self, pairs: set[Pair] | None, facts: SessionFacts) -> dict[Pair, tuple[Path, MergeResult]]:
        """Merge this session's records into the pact directory's files, in memory: pair ->
        (target file, result). `pairs` limits the work (None: every pair a record declares)."""
        from pytest_ipc.contracts import pactfile
        from pytest_ipc.contracts.merge import Written, merge_pair

        written: dict[Pair, list[Written]] = defaultdict(list)
        declared: set[Pair] = set()
        for record in self.records():
            declared.update(pair for pair in record.pairs if pairs is None or pair in pairs)
            for path in record.pacts:
                document = pactfile.load_pact(path)
                pair = pactfile.pair_of(document)
                if pairs is None or pair in pairs:
                    written[pair].append(Written(record.test, document))
        existing = pacts_by_pair(self.pact_dir)
        merges: dict[Pair, tuple[Path, MergeResult]] = {}
        for pair in sorted(declared):
            # pact-python's own file name, unless a file of the pair already exists under another
            target, old = existing.get(pair) or (self.pact_dir / f"{pair[0]}-{pair[1]}.json", None)
            result = merge_pair(self.pact_dir, old, written[pair], facts, old_name=_shown(target))
            merges[pair] = (target, result)
        return merges

    def merge(self) -> MergeOutcome:
        """Merge every process's records into the pact directory (the controller, at session end)."""
        outcome = MergeOutcome()
        if not self.fragments_dir.is_dir():
            return outcome
        called, collectors, filtered = set(self.called), dict(self.collectors), self.collection_filtered
        for summary_file in sorted(self.fragments_dir.glob(f"*/{SUMMARY_FILE}")):
            summary = json.loads(summary_file.read_text())
            called.update(summary["called"])
            collectors.update(summary["collectors"])
            filtered |= summary["filtered"]
            self.seen.update(Path(path) for path in summary["verified"])
        self.seen.update(self.verified)
        if not any(record.pairs for record in self.records()):
            return outcome  # this session made no pacts: leave the pact directory alone
        from pytest_ipc.contracts import pactfile
        from pytest_ipc.contracts.merge import SessionFacts

        ran = called | {record.test for record in self.records() if record.called}
        facts = SessionFacts(self.rootdir, frozenset(ran), gone_tests(self.rootdir, collectors, filtered), self.prune)
        with pactfile.locked(self.pact_dir):
            outcome.ignored = pactfile.scan(self.pact_dir)[1]
            for target, result in self.pair_merges(None, facts).values():
                if result.conflicts:
                    outcome.conflicts += result.conflicts
                elif result.document is None:
                    if target.exists():
                        target.unlink()
                        outcome.removed.append(target)
                else:
                    pactfile.write_atomically(target, result.document)
                    outcome.written.append(target)
        self.seen.update(outcome.written)
        return outcome

    def cleanup(self) -> None:
        shutil.rmtree(self.fragments_dir, ignore_errors=True)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def pacts_by_pair(pact_dir: Path) -> dict[Pair, tuple[Path, pactfile.Document]]:
    """The pact directory's file of each pair (the first by name, if several name the same pair):
    where a merge writes the pair's pact."""
    from pytest_ipc.contracts import pactfile

    found: dict[Pair, tuple[Path, pactfile.Document]] = {}
    for path, document in pactfile.scan(pact_dir)[0]:
        found.setdefault(pactfile.pair_of(document), (path, document))
    return found


def gone_tests(rootdir: Path, collectors: dict[str, list[str]], filtered: bool) -> Callable[[str], bool]:
    """Whether a test no longer exists: its module file is gone, or its module (or class) was
    collected in this session and does not list it. Nothing else is evidence: a module that was
    not collected, or a collection another plugin filtered (--lf), proves nothing."""
    children = {nodeid: set(items) for nodeid, items in collectors.items()}

    def gone(test: str) -> bool:
        module = test.split("::", 1)[0]
        if not (rootdir / module).exists():
            return True
        if filtered:
            return False
        parts = test.split("::")
        for depth in range(len(parts) - 1, 0, -1):
            parent = "::".join(parts[:depth])
            if parent in children:
                child = "::".join(parts[: depth + 1])
                return child not in children[parent]
        return False

    return gone


def fragments_path() -> Path:
    """Where this session's fragments go (created 0700 on first use), in memory (/dev/shm) when
    possible: on a disk a file create costs about a millisecond under load, in tmpfs a tenth.
    Fragments of sessions that died without cleaning up (SIGKILL) are removed on the way."""
    memory = Path("/dev/shm")
    base = memory if memory.is_dir() and os.access(memory, os.W_OK) else Path(tempfile.gettempdir())
    _remove_orphaned_fragments(base)
    return base / f"{FRAGMENTS_PREFIX}{owner_token()}-{os.urandom(8).hex()}"


def _remove_orphaned_fragments(base: Path) -> None:
    for path in base.glob(f"{FRAGMENTS_PREFIX}*"):
        pid, _, rest = path.name.removeprefix(FRAGMENTS_PREFIX).partition("-")
        owner = f"{pid}-{rest.partition('-')[0]}"
        if path.is_dir() and path.stat().st_uid == os.getuid() and not owner_alive(owner):
            shutil.rmtree(path, ignore_errors=True)
