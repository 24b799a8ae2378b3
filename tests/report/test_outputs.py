"""The report's outputs from one real session (`tests.report.session`): outcomes recorded without user
code, the four formats (JSON, JUnit XML, Markdown, HTML) agreeing on every cell, the CI job summary,
pytest-html's extras, and the HTML page drawn from the JSON data alone (as a merge of shards does)."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import pytest_ipc.resilience.aio  # noqa: F401  (imported here, so in-process inner sessions share its classes)
from pytest_ipc.report import render_html, render_markdown
from pytest_ipc.report.outcomes import Outcome
from pytest_ipc.report.table import worst
from tests.report.session import HAS_PYTEST_HTML, Session

PRICES = "test_shop.py::test_with_fallback"



def json_cells(session: Session) -> dict[tuple[str, str], str]:
    return {(cell["dependency"], cell["fault"]): cell["outcome"] for cell in session.json["cells"]}


def test_each_cell_records_its_outcome_without_user_code(session: Session) -> None:
    assert json_cells(session) == {
        ("prices", "respx-outage"): "recovered",  # the matrix alone: the test passed
        ("prices", "respx-status-503"): "recovered",
        ("prices", "stub-status-503"): "broke",  # the matrix alone: the test failed
        ("prices", "stub-hang"): "timed out within budget",  # the assertion's verdict replaced the matrix's
        ("prices (cached)", "slow answers"): "served fallback",  # the test's own record, alone: no matrix cell for it
        ("inventory", "hang"): "hung",  # an assertion outside the matrix, under the dependency the test named
        ("http_stub", "status-503"): "served fallback",  # default dependency: the stub fixture the fault went into
    }
    sources = {(r["dependency"], r["fault"]): r["source"] for r in session.json["records"]}
    assert sources[("prices", "respx-outage")] == "matrix"
    assert sources[("prices", "stub-hang")] == "assertion"
    assert sources[("prices (cached)", "slow answers")] == "user"
    assert len(session.json["records"]) == 7, "one record per cell: the replaced ones are gone"


def test_failing_cells_keep_the_failure_message_and_a_timeline(session: Session) -> None:
    tests = session.json["tests"]
    broke = tests["test_shop.py::test_without_fallback[stub-status-503]"]
    assert broke["outcome"] == "failed"
    assert "HTTPStatusError: Server error '503 Service Unavailable'" in broke["message"]
    assert broke["cell"] == {"dependency": "prices", "fault": "stub-status-503", "layer": "stub"}
    kinds = [event["kind"] for event in broke["timeline"]]
    assert {"fault", "request", "record"} <= set(kinds)
    hung = tests["test_shop.py::test_no_timeout"]
    assert "timeout not honoured" in hung["message"]
    calls = [event for event in hung["timeline"] if event["kind"] == "call"]
    assert calls and calls[0]["text"] == "was still running" and calls[0]["duration"] is None
    fault = next(event for event in hung["timeline"] if event["kind"] == "fault")
    assert fault["text"] == "hang at the stub layer" and fault["duration"] > 0.1
    assert "test_shop.py::test_plain" not in tests
    unproven = tests["test_shop.py::test_fault_never_fired[respx-reset]"]
    assert unproven["outcome"] == "failed" and "FaultNeverFired" in unproven["message"]
    assert not any(record["test"] == "test_shop.py::test_fault_never_fired[respx-reset]" for record in session.json["records"])
    cell = next(cell for cell in session.json["cells"] if cell["fault"] == "stub-status-503")
    assert cell["failed"] == ["test_shop.py::test_without_fallback[stub-status-503]"]


def junit_cells(session: Session) -> dict[tuple[str, str], str]:
    """Per cell, the worst outcome among the `ipc:<dependency>:<fault>` properties of every test case."""
    outcomes: dict[tuple[str, str], list[str]] = {}
    for prop in ElementTree.parse(session.directory / "junit.xml").iter("property"):
        name, value = prop.get("name", ""), prop.get("value", "")
        if name.startswith("ipc:"):
            _, dependency, fault = name.split(":", 2)
            outcomes.setdefault((dependency, fault), []).append(value.rsplit(" in ", 1)[0])
    return {key: worst(values) for key, values in outcomes.items()}


def markdown_cells(text: str) -> dict[tuple[str, str], str]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    faults = [cell.strip() for cell in lines[0].strip("|").split("|")][1:]
    found = {}
    for line in lines[1:]:
        dependency, *texts = (cell.strip() for cell in line.strip("|").split("|"))
        for fault, text in zip(faults, texts, strict=True):
            if text:
                found[(dependency, fault)] = next(o.value for o in Outcome if o.value in text)
    return found


class GridCells(HTMLParser):
    """The `td.cell` elements of the HTML grid: their data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "td" and "cell" in (found.get("class") or "").split():
            self.cells[(found["data-dependency"] or "", found["data-fault"] or "")] = found["data-outcome"] or ""


def html_cells(text: str) -> dict[tuple[str, str], str]:
    parser = GridCells()
    parser.feed(text)
    return parser.cells


def test_json_junit_markdown_and_html_agree_on_every_cell(session: Session) -> None:
    expected = json_cells(session)
    assert len(expected) == 7
    assert junit_cells(session) == expected
    assert markdown_cells(session.text("report.md")) == expected
    assert html_cells(session.text("report.html")) == expected


def test_job_summary_appended_when_github_names_it(session: Session) -> None:
    summary = session.text("step-summary.md")
    assert summary.startswith("earlier step\n### pytest-ipc resilience report")
    assert markdown_cells(summary) == json_cells(session)
    assert "**3 failing test(s)**" in summary
    assert "- `test_shop.py::test_fault_never_fired[respx-reset]`: pytest_ipc.faults.errors.FaultNeverFired: reset was injected" in summary
    assert "- `test_shop.py::test_no_timeout`: pytest_ipc._errors.IpcAssertionError: timeout not honoured" in summary


def test_html_is_drawn_from_the_json_report_alone(session: Session) -> None:
    """A merge of shard reports feeds `render_html` the JSON data: the same page comes out."""
    document: dict[str, Any] = session.json
    assert render_html(document) == session.text("report.html")
    assert render_markdown(document) == session.text("report.md")


def test_html_is_self_contained(session: Session) -> None:
    page = session.text("report.html")
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    embedded = re.search(r'<script type="application/json" id="ipc-report-data">(.*?)</script>', page, re.S)
    assert embedded is not None
    assert json.loads(embedded.group(1)) == session.json


@pytest.mark.skipif(not HAS_PYTEST_HTML, reason="pytest-html is not installed (pip install pytest-html, or the test extra)")
def test_pytest_html_rows_carry_the_records_and_timeline(session: Session) -> None:
    page = unescape(session.text("pytest-html.html")).replace('\\"', '"')  # the rows travel as an escaped JSON blob
    assert '<div class="ipc-report" data-test="test_shop.py::test_timeout_in_matrix[stub-hang]">' in page
    assert "timed out within budget" in page
    assert "hang at the stub layer" in page


def test_record_replaced_in_a_test_leaves_no_event(session: Session) -> None:
    timeline = session.json["tests"]["test_shop.py::test_user_record_wins[stub-latency-50ms]"]["timeline"]
    records = [event["text"] for event in timeline if event["kind"] == "record"]
    assert records == [next(text for text in records if text.endswith("(user)"))]


def test_matrix_marker_dependency_must_be_a_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n"
        "@pytest.mark.fault_matrix(faults=['hang'], layers=['stub'], dependency='')\n"
        "def test_x(http_stub, ipc_target_url):\n    pass\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*dependency= takes the dependency's name for the report (e.g. 'orders-api'), got ''*"])


def test_html_and_markdown_options_reject_a_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    for option in ("--ipc-report-html", "--ipc-report-markdown"):
        result = pytester.runpytest("-p", "no:cacheprovider", f"{option}={pytester.path}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{option}*is a directory; give a file name*"])


def test_empty_session_writes_empty_pages_and_no_job_summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("PYTEST_IPC_REPORT_HTML", "env.html")
    pytester.runpytest("-p", "no:cacheprovider", "--ipc-report-markdown=out.md").assert_outcomes(passed=1)
    assert not summary.exists()
    assert "Nothing was recorded." in (pytester.path / "out.md").read_text()
    assert "Nothing was recorded." in Path(pytester.path / "env.html").read_text()


def test_breaker_states_and_records_on_the_timeline(pytester: pytest.Pytester) -> None:
    """A real pybreaker watched by the adapter: its state changes land on the test's timeline and page."""
    pytester.makepyfile(
        """
import pybreaker
import pytest
from pytest_ipc.resilience import watch_pybreaker

def test_breaker(ipc_report):
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=60)
    watch_pybreaker(breaker)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: 1 / 0)
    ipc_report.record("payments", "outage", "failed fast", 0.002)
"""
    )
    pytester.runpytest("-p", "no:cacheprovider", "--ipc-report-json=r.json", "--ipc-report-html=r.html").assert_outcomes(passed=1)
    tests = json.loads((pytester.path / "r.json").read_text())["tests"]
    timeline = tests["test_breaker_states_and_records_on_the_timeline.py::test_breaker"]
    assert sorted((event["kind"], event["text"]) for event in timeline["timeline"]) == [
        ("breaker", "closed → open"),
        ("record", "payments × outage: failed fast in 0.002s (user)"),  # placed where it began: 2 ms before now
    ]
    page = (pytester.path / "r.html").read_text()
    assert "<title>+" in page and "closed → open</title>" in page


def test_pages_draw_from_merged_shards_without_derived_fields(session: Session) -> None:
    """Shards merged by concatenating records and tests (no `cells`, no `summary`) draw the same grid."""
    document = session.json
    shards = [
        {"records": [r for r in document["records"] if (r["test"] < "test_shop.py::test_t") == first],
         "tests": {name: trace for name, trace in document["tests"].items() if (name < "test_shop.py::test_t") == first}}
        for first in (True, False)
    ]
    assert all(shard["records"] for shard in shards)
    merged = {"records": shards[0]["records"] + shards[1]["records"], "tests": {**shards[0]["tests"], **shards[1]["tests"]}}
    assert html_cells(render_html(merged)) == json_cells(session)
    assert markdown_cells(render_markdown(merged)) == json_cells(session)


def test_async_assertions_record_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import httpx
import pytest
from pytest_ipc import faults
from pytest_ipc.resilience import aio

@pytest.mark.asyncio
async def test_async_fallback(http_stub, ipc_report):
    ipc_report.dependency = "prices"
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})

    async def price():
        async with httpx.AsyncClient(timeout=0.3) as client:
            answer = await client.get(http_stub.url_for("/price"))
            return -1.0 if answer.status_code >= 500 else answer.json()["eur"]

    with faults.inject(faults.status(503), into=http_stub):
        await aio.assert_fallback(price, -1.0)
"""
    )
    pytester.runpytest("-p", "no:cacheprovider", "--ipc-report-json=r.json").assert_outcomes(passed=1)
    document = json.loads((pytester.path / "r.json").read_text())
    assert [(r["dependency"], r["fault"], r["outcome"], r["source"]) for r in document["records"]] == [
        ("prices", "status-503", "served fallback", "assertion")
    ]
    kinds = {event["kind"] for event in next(iter(document["tests"].values()))["timeline"]}
    assert kinds == {"fault", "call", "record"}
