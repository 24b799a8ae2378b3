"""One real pytest session whose resilience report the report tests read: several cells, passing and
failing, recorded by the fault matrix, by resilience assertions and by the test itself, run under
pytest-xdist with every report file asked for (JSON, HTML, Markdown, JUnit XML, the GitHub job summary,
and pytest-html's report when pytest-html is installed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USER_TESTS = '''
import httpx
import pytest
from pytest_ipc import faults
from pytest_ipc.resilience import assert_fallback, assert_timeout_honoured


def price(url, *, fallback=True, timeout=0.3):
    try:
        with httpx.Client(timeout=timeout) as http:
            answer = http.get(url + "/price")
            answer.raise_for_status()
            return answer.json()["eur"]
    except httpx.HTTPError:
        if not fallback:
            raise
        return -1.0


@pytest.mark.fault_matrix(faults=["outage", faults.status(503)], layers=["respx"], dependency="prices")
def test_with_fallback(http_stub, ipc_target_url):
    """No report code at all: each cell records itself (passed: recovered)."""
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(ipc_target_url) == -1.0


@pytest.mark.fault_matrix(faults=[faults.status(503)], layers=["stub"], dependency="prices")
def test_without_fallback(http_stub, ipc_target_url):
    """A fragile client: the cell records itself as broke, with the test's failure message."""
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    price(ipc_target_url, fallback=False)


@pytest.mark.fault_matrix(faults=[faults.hang()], layers=["stub"], dependency="prices")
def test_timeout_in_matrix(http_stub, ipc_target_url):
    """The assertion's outcome replaces the matrix's guess for the cell."""
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert_timeout_honoured(lambda: price(ipc_target_url, fallback=False, timeout=0.2), budget=0.5, stub=http_stub)


@pytest.mark.fault_matrix(faults=[faults.latency(0.05)], layers=["stub"], dependency="prices")
def test_user_record_wins(http_stub, ipc_target_url, ipc_report):
    """A test that records itself reports only its own records: the matrix's record of its cell goes."""
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    with ipc_report.measure("prices (cached)", "slow answers") as attempt:
        assert price(ipc_target_url) == 3.5
        attempt.outcome = "served fallback"


def test_no_timeout(http_stub, ipc_report):
    """Outside the matrix: a hanging call fails the assertion, recorded as hung."""
    ipc_report.dependency = "inventory"
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    with faults.inject(faults.hang(), into=http_stub):
        assert_timeout_honoured(lambda: price(http_stub.url, fallback=False, timeout=5), budget=0.1, slack=0.1)


def test_fallback(http_stub):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    with faults.inject(faults.status(503), into=http_stub):
        assert_fallback(lambda: price(http_stub.url), -1.0)


@pytest.mark.fault_matrix(faults=[faults.reset()], layers=["respx"], dependency="prices")
def test_fault_never_fired(http_stub, ipc_target_url):
    """respx cannot reach requests: the fault never fires, the cell proves nothing and records nothing."""
    import requests

    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    requests.get(ipc_target_url + "/price", timeout=2)


def test_plain():
    """Records nothing: not in the report."""
'''

LEAN = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker", "-p", "no:benchmark",
        "-p", "no:pytest_httpserver", "-p", "no:anyio", "-p", "no:pact", "-p", "no:randomly")
HAS_PYTEST_HTML = importlib.util.find_spec("pytest_html") is not None


@dataclass(frozen=True)
class Session:
    """The files a session wrote and what it printed."""

    directory: Path
    returncode: int
    output: str

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.directory / "report.json").read_text())
        return document

    def text(self, name: str) -> str:
        return (self.directory / name).read_text(encoding="utf-8")


def run_session(directory: Path) -> Session:
    """Run USER_TESTS in `directory` in a pytest process of its own (two xdist workers)."""
    (directory / "test_shop.py").write_text(USER_TESTS)
    summary = directory / "step-summary.md"
    summary.write_text("earlier step\n")
    environment = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "PYTHONPATH": str(Path(__file__).parents[2])}
    html = ["--html=pytest-html.html", "--self-contained-html"] if HAS_PYTEST_HTML else []
    command = [sys.executable, "-m", "pytest", *LEAN, "-n", "2", "--ipc-report-json=report.json", "--ipc-report-html=report.html",
               "--ipc-report-markdown=report.md", "--junitxml=junit.xml", *html, "test_shop.py"]
    done = subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True, timeout=240, check=False)
    return Session(directory, done.returncode, done.stdout + done.stderr)
