"""The resilience report in Markdown: the dependency × fault grid and the failing tests, short
enough for a CI job summary (GitHub's ``GITHUB_STEP_SUMMARY``) or a pull-request comment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_ipc.report.outcomes import Outcome
from pytest_ipc.report.table import cells

#: One mark per outcome, so a grid reads at a glance where colour is not available.
MARKS = {
    Outcome.RECOVERED.value: "🟢",
    Outcome.SERVED_FALLBACK.value: "🔵",
    Outcome.FAILED_FAST.value: "🟡",
    Outcome.TIMED_OUT.value: "🟠",
    Outcome.HUNG.value: "🔴",
    Outcome.BROKE.value: "❌",
}
MESSAGE_LINE = 160  # characters of a failure message's first line shown per failing test


def _text(value: object) -> str:
    """A table cell's text: pipes and line breaks would end the cell."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def cell_text(cell: Mapping[str, Any]) -> str:
    """What a grid cell says: the mark and the worst outcome, then how many records and their median latency."""
    return f"{MARKS[cell['outcome']]} {cell['outcome']} · {cell['count']}× · median {_seconds(cell['median'])}"


def render_markdown(document: Mapping[str, Any]) -> str:
    """The Markdown summary of a JSON report (`table.json_document`, or a merge of several)."""
    grid = cells(document)
    lines = ["### pytest-ipc resilience report", ""]
    if not grid:
        return "\n".join([*lines, "Nothing was recorded.", ""])
    faults = sorted({cell["fault"] for cell in grid})
    dependencies = sorted({cell["dependency"] for cell in grid})
    by_key = {(cell["dependency"], cell["fault"]): cell for cell in grid}
    lines.append("| dependency | " + " | ".join(_text(fault) for fault in faults) + " |")
    lines.append("|---|" + "---|" * len(faults))
    for dependency in dependencies:
        row = [cell_text(by_key[(dependency, fault)]) if (dependency, fault) in by_key else "" for fault in faults]
        lines.append(f"| {_text(dependency)} | " + " | ".join(_text(text) for text in row) + " |")
    lines += ["", "Outcomes: " + ", ".join(f"{mark} {label}" for label, mark in MARKS.items()), ""]
    tests: Mapping[str, Mapping[str, Any]] = document.get("tests") or {}
    failing = sorted({name for cell in grid for name in cell["failed"]}
                     | {name for name, trace in tests.items() if trace.get("outcome") in ("failed", "error")})
    if failing:
        lines += [f"**{len(failing)} failing test(s)**", ""]
        for name in failing:
            message = str(tests.get(name, {}).get("message", "")).strip().splitlines()
            first = message[0][:MESSAGE_LINE] if message else ""
            lines.append(f"- `{name}`: {first}" if first else f"- `{name}`")
        lines.append("")
    return "\n".join(lines)
