"""Joining the JSON resilience reports of a suite's shards into the report of one session.

The records are what a report is made of, so the merge does what the xdist controller does with
its workers' records: every shard's records (`Record.from_json`) become one list, and
`json_document` draws the summary from it, so a merged report is the report one session running
every shard's tests would have written. Fields this version does not know are carried through
unchanged: a record's own, a summary cell's (when the shards that have the cell agree on them) and
the document's (when every shard agrees); a disagreement is a problem, never a silent pick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_ipc.report.outcomes import ReportUsageError
from pytest_ipc.report.recorder import Record
from pytest_ipc.report.table import JSON_FORMAT_VERSION, json_document

Cell = tuple[str, str, str]


@dataclass
class ReportMerge:
    """The merged report (None when there are problems) and the problems found, one line each."""

    document: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)


def is_report(document: object) -> bool:
    """Whether a JSON document is a resilience report (`--ipc-report-json`), of any format version."""
    return isinstance(document, dict) and "format" in document and isinstance(document.get("records"), list)


def merge_reports(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> ReportMerge:
    """Merge `(name, report)` pairs (a name says where the report came from, for messages)."""
    problems = _format_problems(reports)
    if problems:
        return ReportMerge(None, problems)
    records: list[Record] = []
    raw: list[dict[str, Any]] = []
    ran_in: dict[str, str] = {}
    for name, report in reports:
        seen_here: set[str] = set()
        for index, data in enumerate(report["records"]):
            try:
                record = Record.from_json(data)
            except (KeyError, TypeError, ValueError, ReportUsageError) as error:
                problems.append(f"{name}: record {index} is not a resilience record ({error!r}): {data!r}")
                continue
            records.append(record)
            raw.append({**data, **record.to_json()})  # known fields as this version writes them, the rest as they came
            if record.test and record.test not in seen_here:
                seen_here.add(record.test)
                if record.test in ran_in:
                    problems.append(
                        f"{record.test} recorded outcomes in {ran_in[record.test]} and in {name}: expected every test to run in "
                        "one shard only (its cells would count twice); make the shards' selections disjoint."
                    )
                else:
                    ran_in[record.test] = name
    merged = json_document(records)
    merged["records"] = raw
    problems += _carry_cell_fields(merged, reports)
    problems += _carry_document_fields(merged, reports)
    return ReportMerge(None if problems else merged, problems)


def _format_problems(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    formats: dict[object, list[str]] = {}
    for name, report in reports:
        formats.setdefault(report.get("format"), []).append(name)
    if len(formats) > 1:
        listed = "; ".join(f"format {version}: {', '.join(names)}" for version, names in formats.items())
        return [
            f"the resilience reports have different formats ({listed}). Expected one pytest-ipc version on every "
            "shard: install the same version everywhere."
        ]
    (version,) = formats or {JSON_FORMAT_VERSION: []}
    if version != JSON_FORMAT_VERSION:
        return [
            f"the resilience reports are of format {version}; this pytest-ipc reads format {JSON_FORMAT_VERSION}. "
            "Merge them with the pytest-ipc version that wrote them."
        ]
    return []


def _cell(row: Mapping[str, Any]) -> Cell:
    return str(row.get("dependency")), str(row.get("fault")), str(row.get("outcome"))


def _carry_cell_fields(merged: dict[str, Any], reports: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Put on each merged summary cell the fields of the shards' cells this version does not compute."""
    rows = {_cell(row): row for row in merged["summary"]}
    carried: dict[tuple[Cell, str], tuple[object, str]] = {}
    problems: list[str] = []
    for name, report in reports:
        for row in report.get("summary") or []:
            if not isinstance(row, Mapping):
                continue
            target = rows.get(_cell(row))
            if target is None:
                problems.append(
                    f"{name}: the summary cell {' × '.join(_cell(row))} has no record behind it. Expected a report as "
                    "--ipc-report-json writes it: write it anew rather than editing it."
                )
                continue
            for key, value in row.items():
                if key in target and (_cell(row), key) not in carried:
                    continue  # computed from the records
                earlier = carried.setdefault((_cell(row), key), (value, name))
                if earlier[0] != value:
                    problems.append(
                        f"the summary cell {' × '.join(_cell(row))} has {key}={earlier[0]!r} in {earlier[1]} and "
                        f"{key}={value!r} in {name}; this pytest-ipc cannot combine {key!r}: merge with the version that wrote it."
                    )
                target[key] = value
    return problems


def _carry_document_fields(merged: dict[str, Any], reports: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Put on the merged report the top-level fields this version does not write, if every shard agrees."""
    known = set(merged)
    problems: list[str] = []
    for key in sorted({key for _, report in reports for key in report} - known):
        values = [(name, report.get(key)) for name, report in reports]
        first_name, first = values[0]
        differing = next(((name, value) for name, value in values if value != first), None)
        if differing is not None:
            problems.append(
                f"the resilience reports disagree on {key!r} ({first!r} in {first_name}, {differing[1]!r} in {differing[0]}); "
                f"this pytest-ipc cannot combine {key!r}: merge with the version that wrote it."
            )
        else:
            merged[key] = first
    return problems
