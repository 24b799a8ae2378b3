"""Rendering the records: a dependency × fault table for the terminal, the JSON document, and the
grid of cells (one per dependency × fault) that the HTML and Markdown reports draw from that document."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_ipc.report.outcomes import Outcome
from pytest_ipc.report.recorder import Record

JSON_FORMAT_VERSION = 2  # 2: seconds without a unit suffix (latency, median, maximum)
HEADERS = ("dependency", "fault", "outcome", "n", "median", "max")


@dataclass(frozen=True)
class Row:
    """All records of one dependency × fault × outcome."""

    dependency: str
    fault: str
    outcome: Outcome
    latencies: tuple[float, ...]
    tests: tuple[str, ...]

    @property
    def median(self) -> float:
        import statistics  # when a report is drawn, not in every session

        return statistics.median(self.latencies)

    @property
    def maximum(self) -> float:
        return max(self.latencies)


def rows(records: Sequence[Record]) -> list[Row]:
    """Group by dependency, fault and outcome; sorted so a reader scans one dependency at a time."""
    groups: dict[tuple[str, str, Outcome], list[Record]] = {}
    for entry in records:
        groups.setdefault((entry.dependency, entry.fault, entry.outcome), []).append(entry)
    order = list(Outcome)
    keys = sorted(groups, key=lambda key: (key[0], key[1], order.index(key[2])))
    return [
        Row(*key, tuple(entry.latency for entry in groups[key]), tuple(sorted({e.test for e in groups[key]})))
        for key in keys
    ]


def _seconds(value: float) -> str:
    if value < 0.001:
        return "<1 ms"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def table_lines(records: Sequence[Record]) -> list[str]:
    """The terminal table: one line per row, columns padded to their widest cell."""
    cells = [HEADERS] + [
        (row.dependency, row.fault, row.outcome.value, str(len(row.latencies)), _seconds(row.median), _seconds(row.maximum))
        for row in rows(records)
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADERS))]
    numeric = {3, 4, 5}

    def render(line: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()

    return [render(cells[0]), render(["-" * width for width in widths]), *(render(line) for line in cells[1:])]


def json_document(records: Sequence[Record], tests: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The `--ipc-report-json` file: the summary rows, every raw record, each test's trace (how it
    ended, its failure message, its timeline) and the cells of the grid (derived: `cells`)."""
    document: dict[str, Any] = {
        "format": JSON_FORMAT_VERSION,
        "outcomes": [outcome.value for outcome in Outcome],
        "summary": [
            {
                "dependency": row.dependency,
                "fault": row.fault,
                "outcome": row.outcome.value,
                "count": len(row.latencies),
                "median": round(row.median, 6),
                "maximum": round(row.maximum, 6),
                "tests": list(row.tests),
            }
            for row in rows(records)
        ],
        "records": [entry.to_json() for entry in records],
        "tests": {name: dict(trace) for name, trace in sorted((tests or {}).items())},
    }
    document["cells"] = cells(document)
    return document


def worst(outcomes: Iterable[str]) -> str:
    """The worst of these outcome labels (the vocabulary is ordered best first)."""
    order = [outcome.value for outcome in Outcome]
    return max(outcomes, key=order.index)


def cells(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grid's cells from a JSON report's ``records`` and ``tests`` (also a merged one): per
    dependency × fault, its worst outcome (the colour), the count of each outcome, every latency and
    the tests behind it, those that failed apart. Recomputed from the raw data, never read back."""
    order = [outcome.value for outcome in Outcome]
    tests: Mapping[str, Mapping[str, Any]] = document.get("tests") or {}
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for entry in document.get("records", []):
        grouped.setdefault((str(entry["dependency"]), str(entry["fault"])), []).append(entry)
    result = []
    for (dependency, fault), entries in sorted(grouped.items()):
        labels = [str(Outcome.parse(entry["outcome"]).value) for entry in entries]
        latencies = sorted(float(entry["latency"]) for entry in entries)
        names = sorted({str(entry.get("test", "")) for entry in entries} - {""})
        result.append({
            "dependency": dependency,
            "fault": fault,
            "outcome": worst(labels),
            "outcomes": {label: labels.count(label) for label in order if label in labels},
            "count": len(entries),
            "latencies": [round(latency, 6) for latency in latencies],
            "median": round(latencies[(len(latencies) - 1) // 2] / 2 + latencies[len(latencies) // 2] / 2, 6),
            "maximum": round(latencies[-1], 6),
            "tests": names,
            "failed": [name for name in names if tests.get(name, {}).get("outcome") in ("failed", "error")],
        })
    return result
