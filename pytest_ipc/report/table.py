"""Rendering the records: a dependency × fault table for the terminal, and the JSON document."""

from __future__ import annotations

from collections.abc import Sequence
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


def json_document(records: Sequence[Record]) -> dict[str, Any]:
    """The `--ipc-report` file: the summary rows and every raw record."""
    return {
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
    }
