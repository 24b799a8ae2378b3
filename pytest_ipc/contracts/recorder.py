"""Session-wide record of which pacts passing tests produced, merged into the pact directory once.

Every process (the single pytest process, or each xdist worker) writes each passing test's pact to
its own fragment directory: no two processes ever touch the same file and no write grows with the
number of tests. The controlling process merges the fragments at session end, under a file lock, and
replaces the files of every consumer/provider pair the session declared, so each pact file holds
exactly the interactions of this session's passing tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._owner import owner_alive, owner_token
from . import pactfile

if TYPE_CHECKING:
    from pact import Pact

SUMMARY_FILE = "summary.json"
FRAGMENT_SEPARATOR = "~"


class PactRecorder:
    """Collects fragments in `fragments_dir/<worker>/` and merges them into `pact_dir`."""

    def __init__(self, pact_dir: Path, fragments_dir: Path, worker: str) -> None:
        """`fragments_dir` is shared by every process of the session (see `fragments_path`); it is
        only created once a test makes a pact, so sessions without contracts leave nothing behind."""
        self.pact_dir = pact_dir
        self.fragments_dir = fragments_dir
        self.worker_dir = fragments_dir / worker
        self.declared: set[tuple[str, str]] = set()
        self.verified: set[Path] = set()
        self.seen: set[Path] = set()
        self._fragment_count = 0

    def declare(self, consumer: str, provider: str) -> None:
        """A test made a pact for this pair: its file is rewritten even if every such test fails."""
        self.declared.add((consumer, provider))

    def record(self, pact: Pact) -> None:
        """Keep the pact of a test whose call phase passed, as a fragment file of its own.

        pact-python names the file after the pair, so it is written to a staging directory and
        renamed: one create and one rename per test, whatever the number of tests.
        """
        self._fragment_count += 1
        self._make_worker_dir()
        staging = self.worker_dir / "staging"
        pact.write_file(staging, overwrite=True)
        for written in staging.iterdir():
            written.rename(self.worker_dir / f"{self._fragment_count:06d}{FRAGMENT_SEPARATOR}{written.name}")

    def note_verified(self, pact_file: Path) -> None:
        self.verified.add(pact_file)

    def _make_worker_dir(self) -> None:
        self.fragments_dir.mkdir(mode=0o700, exist_ok=True)
        self.worker_dir.mkdir(mode=0o700, exist_ok=True)

    def finish_worker(self) -> None:
        """Leave this process's declared pairs and verified files for the controller to read."""
        if not self.declared and not self.verified:
            return
        self._make_worker_dir()
        summary = {"declared": sorted(self.declared), "verified": sorted(map(str, self.verified))}
        (self.worker_dir / SUMMARY_FILE).write_text(json.dumps(summary))

    def merge(self) -> list[Path]:
        """Merge every worker's fragments into the pact directory; return the files written.

        Afterwards `seen` holds the files written and the files verified, for the session summary.
        """
        if not self.fragments_dir.is_dir():
            return []
        declared: set[tuple[str, str]] = set()
        documents: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        file_names: dict[tuple[str, str], str] = {}
        for worker_dir in sorted(path for path in self.fragments_dir.iterdir() if path.is_dir()):
            summary_file = worker_dir / SUMMARY_FILE
            if summary_file.exists():
                summary = json.loads(summary_file.read_text())
                declared.update((consumer, provider) for consumer, provider in summary["declared"])
                self.seen.update(Path(path) for path in summary["verified"])
            for fragment in sorted(worker_dir.glob(f"*{FRAGMENT_SEPARATOR}*.json")):
                document = pactfile.load_pact(fragment)
                pair = (document["consumer"]["name"], document["provider"]["name"])
                documents[pair].append(document)
                file_names[pair] = fragment.name.split(FRAGMENT_SEPARATOR, 1)[1]
        written: list[Path] = []
        if not declared and not documents:
            return written  # this session made no pacts: leave the pact directory alone
        with pactfile.locked(self.pact_dir):
            _remove_pacts_of(self.pact_dir, declared)
            for pair, pair_documents in sorted(documents.items()):
                target = self.pact_dir / file_names[pair]
                pactfile.write_atomically(target, pactfile.merge_documents(pair_documents))
                written.append(target)
        self.seen.update(written)
        return written

    def cleanup(self) -> None:
        shutil.rmtree(self.fragments_dir, ignore_errors=True)


FRAGMENTS_PREFIX = "pytest-ipc-pacts-"


def fragments_path() -> Path:
    """Where this session's fragments go (created 0700 on first use), in memory (/dev/shm) when
    possible: on a disk a file create costs about a millisecond under load, in tmpfs a tenth.
    Fragments of sessions that died without cleaning up (SIGKILL) are removed on the way."""
    memory = Path("/dev/shm")
    base = memory if memory.is_dir() and os.access(memory, os.W_OK) else Path(tempfile.gettempdir())
    _remove_orphaned_fragments(base)
    return base / f"{FRAGMENTS_PREFIX}{owner_token()}-{secrets.token_hex(8)}"


def _remove_orphaned_fragments(base: Path) -> None:
    for path in base.glob(f"{FRAGMENTS_PREFIX}*"):
        pid, _, rest = path.name.removeprefix(FRAGMENTS_PREFIX).partition("-")
        owner = f"{pid}-{rest.partition('-')[0]}"
        if path.is_dir() and path.stat().st_uid == os.getuid() and not owner_alive(owner):
            shutil.rmtree(path, ignore_errors=True)


def _remove_pacts_of(pact_dir: Path, pairs: set[tuple[str, str]]) -> None:
    """Drop last session's files for the pairs this session owns, so failed tests leave no trace."""
    for path in pactfile.pact_files(pact_dir):
        try:
            document = pactfile.load_pact(path)
        except ValueError:
            continue
        if (document["consumer"]["name"], document["provider"]["name"]) in pairs:
            path.unlink()
