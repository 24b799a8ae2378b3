"""The resilience report as a user sees it: whole pytest sessions run with pytester."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from pytest_ipc.report import Outcome, measure, record

# Plugins the inner sessions do not need: each costs a second of start-up on a busy machine.
LEAN = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker", "-p", "no:benchmark",
        "-p", "no:pytest_httpserver", "-p", "no:anyio", "-p", "no:respx", "-p", "no:pact")

RECORDING_TESTS = """
import time
import pytest

def test_latency_recovered(ipc_report):
    ipc_report.record("orders-api", "latency", "recovered", 0.25)
    ipc_report.record("orders-api", "latency", "recovered", 0.75)

def test_outage_served_fallback(ipc_report):
    with ipc_report.measure("orders-api", "outage") as attempt:
        time.sleep(0.05)
        attempt.outcome = "served fallback"
    assert attempt.latency >= 0.05
    assert [r.fault for r in ipc_report.records] == ["outage"]

def test_broker_restart_broke(ipc_report):
    with pytest.raises(ConnectionError):
        with ipc_report.measure("inventory", "broker restart"):
            raise ConnectionError("gone")
"""


def test_table_lists_every_dependency_fault_and_outcome(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDING_TESTS)
    result = pytester.runpytest(*LEAN)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*pytest-ipc resilience report*",
        "dependency*fault*outcome*n*median*max",
        "inventory*broker restart*broke*1*",
        "orders-api*latency*recovered*2*500 ms*750 ms",
        "orders-api*outage*served fallback*1*",
    ])


def test_quiet_with_q(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDING_TESTS)
    result = pytester.runpytest("-q", *LEAN)
    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*resilience report*")


def test_silent_when_nothing_was_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(ipc_report):\n    assert ipc_report.records == []\n")
    result = pytester.runpytest(*LEAN, "--ipc-report-json=out.json")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*resilience report*")
    assert json.loads((pytester.path / "out.json").read_text())["records"] == []


def test_json_file_holds_summary_and_records(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDING_TESTS)
    result = pytester.runpytest(*LEAN, "--ipc-report-json=reports/ipc.json")
    result.assert_outcomes(passed=3)
    document = json.loads((pytester.path / "reports" / "ipc.json").read_text())
    assert document["format"] == 2
    assert document["outcomes"] == [outcome.value for outcome in Outcome]
    latency = next(row for row in document["summary"] if row["fault"] == "latency")
    assert (latency["count"], latency["median"], latency["maximum"]) == (2, 0.5, 0.75)
    assert latency["tests"] == ["test_json_file_holds_summary_and_records.py::test_latency_recovered"]
    assert len(document["records"]) == 4


def test_report_file_from_the_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(RECORDING_TESTS)
    monkeypatch.setenv("PYTEST_IPC_REPORT_JSON", str(pytester.path / "env.json"))
    pytester.runpytest(*LEAN).assert_outcomes(passed=3)
    assert len(json.loads((pytester.path / "env.json").read_text())["records"]) == 4


def test_junit_xml_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDING_TESTS)
    pytester.runpytest(*LEAN, "--junitxml=junit.xml").assert_outcomes(passed=3)
    tree = ElementTree.parse(pytester.path / "junit.xml")
    properties = {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")]
        for case in tree.iter("testcase")
    }
    assert properties["test_latency_recovered"] == [
        ("ipc:orders-api:latency", "recovered in 0.250s"),
        ("ipc:orders-api:latency", "recovered in 0.750s"),
    ]
    assert properties["test_broker_restart_broke"][0][1].startswith("broke in ")


@pytest.mark.slow
def test_xdist_workers_records_merge_on_the_controller(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDING_TESTS)
    result = pytester.runpytest_subprocess(*LEAN, "-n", "2", "--ipc-report-json=merged.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*pytest-ipc resilience report*", "orders-api*latency*recovered*2*"])
    assert len(json.loads((pytester.path / "merged.json").read_text())["records"]) == 4


def test_unknown_outcome_names_the_choices(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('def test_typo(ipc_report):\n    ipc_report.record("db", "latency", "fine", 0.1)\n')
    result = pytester.runpytest(*LEAN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown resilience outcome 'fine'; choose one of: 'recovered', 'served fallback'*"])


def test_report_path_that_is_a_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*LEAN, f"--ipc-report-json={pytester.path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-report*is a directory; give a file name*"])


def test_library_calls_outside_a_recording_session_are_harmless() -> None:
    from pytest_ipc.report import recorder

    previous = recorder.active()
    recorder.activate(None)
    try:
        assert record("db", "latency", Outcome.RECOVERED, 0.1) is None
        with measure("db", "latency") as attempt:
            attempt.outcome = "hung"
        with pytest.raises(ValueError, match="choose one of"):
            record("db", "latency", "fine", 0.1)
    finally:
        recorder.activate(previous)


def test_outcome_accepts_labels_and_names() -> None:
    assert Outcome.parse("served fallback") is Outcome.parse("SERVED_FALLBACK") is Outcome.parse("served_fallback")
    assert Outcome.parse("timed out within budget") is Outcome.TIMED_OUT
