"""`python -m pytest_ipc merge`: the pacts and resilience reports of a suite's shards, made one.

A suite too big for one machine runs as shards (a CI matrix, each runner a part of the tests); each
shard writes its pact directory and its `--ipc-report-json` file, and a last job merges them. Each
argument is what one shard left (a directory, searched for JSON files, or a file); every JSON file
in it is a pact, a resilience report, or ignored with a note. The pacts merge as one session's
(`contracts.merge`: interactions deduplicated by description and provider states, a conflict names
both shards' files), the reports as one session's (`report.merge`). A merge with any problem writes
nothing and exits 1, so a later CI step (`pact-publish` of the merged directory) cannot ship half of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.merge import OWNERSHIP, SessionFacts, Written, merge_pair, written_by_test
from pytest_ipc.report.merge import is_report, merge_reports

COMMAND = "merge"
PROBLEM, USAGE_ERROR = 1, 2
Pair = tuple[str, str]


class ShardUsageError(IpcUsageError):
    """A shard that cannot be read (missing, not JSON), or a merge asked for nothing it can do."""


@dataclass
class Shard:
    """What one shard left: its pact files and resilience reports, and the JSON files that are neither."""

    name: str
    pacts: list[tuple[Path, pactfile.Document]] = field(default_factory=list)
    reports: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)


@dataclass
class PactMerge:
    """The merged pact of each file name (empty when there are problems), and the problems."""

    files: dict[str, pactfile.Document] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_shard(argument: str) -> Shard:
    """The pacts and reports under `argument` (a directory, searched recursively, or one JSON file)."""
    root = Path(argument)
    if root.is_dir():
        paths = sorted(path for path in root.rglob("*.json") if path.is_file())
    elif root.is_file():
        paths = [root]
    else:
        raise ShardUsageError(f"no shard at {argument}: expected a directory a shard's job left (its pacts and report) or a JSON file")
    shard = Shard(argument)
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ShardUsageError(f"cannot read {path}: {error}; expected the files as the shard's session wrote them") from error
        if pactfile.is_pact(document):
            shard.pacts.append((path, document))
        elif is_report(document):
            shard.reports.append((path, document))
        else:
            shard.ignored.append(path)
    return shard


def merge_pacts(pacts: Sequence[tuple[str, pactfile.Document]], into: Path | None = None) -> PactMerge:
    """Merge `(file, pact)` pairs, the file naming where each came from (a shard's path), as one session
    that ran every shard's tests would have written them. The merged file of a pair takes its name
    from the first file of the pair (or the one of that pair already in `into`)."""
    outcome = PactMerge()
    by_pair: dict[Pair, list[Written]] = defaultdict(list)
    first: dict[Pair, str] = {}  # pair -> the first file that holds it
    rootdir = None
    for origin, document in pacts:
        pair = pactfile.pair_of(document)
        first.setdefault(pair, origin)
        by_pair[pair] += written_by_test(document, origin)
        stored = ((document.get("metadata") or {}).get(OWNERSHIP) or {}).get("rootdir")
        rootdir = rootdir or stored
    names = {pair: Path(origin).name for pair, origin in first.items()}
    if into is not None:
        from pytest_ipc.contracts.recorder import pacts_by_pair

        for pair, (path, _) in pacts_by_pair(into).items():
            if pair in names:
                names[pair] = path.name
    holders: dict[str, list[Pair]] = defaultdict(list)
    for pair, name in names.items():
        holders[name].append(pair)
    for name, pairs in sorted(holders.items()):
        if len(pairs) > 1:
            listed = " and ".join(f"{' -> '.join(pair)} in {first[pair]}" for pair in pairs)
            outcome.problems.append(
                f"{name} holds {listed}. Expected one consumer and provider per file name across the shards: "
                "run every shard from one commit, each with an empty pact directory (--ipc-pact-dir)."
            )
    # Node ids are relative to each shard's rootdir, the same checkout on every runner: no rebasing.
    facts = SessionFacts(Path.cwd(), frozenset(), lambda _test: False)
    for pair in sorted(by_pair):
        result = merge_pair(Path.cwd(), None, by_pair[pair], facts)
        outcome.problems += result.conflicts
        if result.document is not None:
            metadata = result.document["metadata"]
            if rootdir is None:
                del metadata[OWNERSHIP]  # pacts of another tool stay free of pytest-ipc's bookkeeping
            else:
                metadata[OWNERSHIP]["rootdir"] = rootdir
            outcome.files[names[pair]] = result.document
    if outcome.problems:
        outcome.files = {}
    return outcome


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m pytest_ipc {COMMAND}",
        description="Merge the pact files and JSON resilience reports of a suite's shards into what one session "
        "running every shard's tests would have written (publish the merged pacts with pact-publish).",
    )
    parser.add_argument("shards", nargs="+", metavar="SHARD", help="what one shard left: a directory (searched for JSON files) or a file")
    parser.add_argument("--pacts", metavar="DIR", help="write the merged pact files into this directory")
    parser.add_argument("--report", metavar="FILE", help="write the merged resilience report (JSON) to this file")
    return parser


def merge_main(argv: Sequence[str]) -> int:
    """`merge SHARD... [--pacts DIR] [--report FILE]`: 0 merged, 1 a conflict (nothing written), 2 a usage error."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_usage(args)
        shards = [read_shard(argument) for argument in args.shards]
        if args.pacts and not any(shard.pacts for shard in shards):
            raise ShardUsageError(
                f"no pact files in {', '.join(args.shards)}: expected the pact directories the shards wrote "
                "(--ipc-pact-dir); check that each shard's job uploaded them"
            )
        if args.report and not any(shard.reports for shard in shards):
            raise ShardUsageError(
                f"no resilience report in {', '.join(args.shards)}: expected the files the shards wrote with "
                "--ipc-report-json; check that each shard's job uploaded it"
            )
    except ShardUsageError as error:
        print(f"{COMMAND}: {error}", file=sys.stderr)
        return USAGE_ERROR
    for shard in shards:
        for path in shard.ignored:
            print(f"{COMMAND}: ignored {path}: neither a pact nor a resilience report")
    out = Path(args.pacts) if args.pacts else None
    pacts = merge_pacts([(_shown(path), document) for shard in shards for path, document in shard.pacts], out) if out else None
    problems = list(pacts.problems) if pacts else []
    report = None
    if args.report:
        missing = [shard.name for shard in shards if not shard.reports]
        problems += [
            f"no resilience report in {name}, while other shards have one: expected every shard to write "
            "--ipc-report-json (a merge without it would hide that shard's cells)"
            for name in missing
        ]
        report = merge_reports([(_shown(path), document) for shard in shards for path, document in shard.reports])
        problems += report.problems
    if problems:
        print(f"{COMMAND}: nothing written; {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return PROBLEM
    written = _write_pacts(out, pacts.files) if out is not None and pacts is not None else []
    if written:
        print(f"{COMMAND}: {len(written)} pact file(s) from {len(shards)} shard(s) in {out}: {', '.join(path.name for path in written)}")
    if report is not None and report.document is not None:
        target = Path(args.report)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report.document, indent=2) + "\n")
        print(f"{COMMAND}: resilience report of {len(shards)} shard(s), {len(report.document['records'])} record(s), in {target}")
    return 0


def _check_usage(args: argparse.Namespace) -> None:
    if not (args.pacts or args.report):
        raise ShardUsageError("nothing to write: give --pacts DIR (the merged pact files), --report FILE (the merged report), or both")
    if args.report and Path(args.report).is_dir():
        raise ShardUsageError(f"--report {args.report} is a directory; give a file name")


def _write_pacts(directory: Path, files: dict[str, pactfile.Document]) -> list[Path]:
    written: list[Path] = []
    with pactfile.locked(directory):
        for name, document in sorted(files.items()):
            target = directory / name
            pactfile.write_atomically(target, document)
            written.append(target)
    return written


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
