"""The vocabulary refuses bad input with the choices, labels read well, and the documented support
table is the one the layers implement."""

from __future__ import annotations

import re

import pytest

from pytest_ipc import faults
from pytest_ipc.faults.matrix import FaultCase, matrix_cases


def test_make_builds_faults_by_name() -> None:
    assert faults.make("latency", seconds=0.2) == faults.latency(0.2)
    assert faults.make("fail_first", times=3, status=429) == faults.fail_first(3, status=429)
    assert faults.make("outage") == faults.outage()


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("latncy", {}, r"unknown fault 'latncy'; choose one of: latency, hang, outage, reset, status, fail_first"),
        ("latency", {}, r"latency: missing parameter\(s\) seconds; latency takes: seconds"),
        ("hang", {"seconds": 1}, r"hang: unknown parameter\(s\) seconds; hang takes: no parameters"),
        ("latency", {"seconds": -0.1}, r"latency: seconds must be a finite number >= 0, got -0.1"),
        ("latency", {"seconds": float("nan")}, r"latency: seconds must be a finite number"),
        ("dribble", {"seconds": 0}, r"dribble: seconds must be > 0 \(the body is spread over them\), got 0"),
        ("status", {"status": 99}, r"response status must be an int from 200 to 599, got 99"),
        ("status", {"retry_after": -1}, r"status: retry_after must be whole seconds >= 0"),
        ("fail_first", {"times": 0}, r"fail_first: times must be an int >= 1, got 0"),
        ("bandwidth", {"kb_s": 1.5}, r"bandwidth: kb_s must be an int >= 0"),
    ],
)
def test_bad_input_is_a_clear_error(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        faults.make(name, **params)


def test_labels_make_readable_ids() -> None:
    cases = matrix_cases([faults.latency(0.2), "outage", faults.status(503), faults.fail_first(2)], ["stub", "proxy"])
    assert [case.id for case in cases] == [
        "stub-latency-200ms", "stub-outage", "stub-status-503", "stub-fail-first-2x503",
        "proxy-latency-200ms", "proxy-outage", "proxy-status-503", "proxy-fail-first-2x503",
    ]  # fmt: skip


def test_unsupported_fault_names_the_layers_that_can() -> None:
    with pytest.raises(faults.FaultNotSupported, match=r"^status 503 cannot be injected at the proxy layer \(.*\); layers that can: respx, stub$"):
        faults.check_supported(faults.status(503), "proxy")
    assert FaultCase(faults.outage(), "stub").unsupported_reason() == (
        "outage cannot be injected at the stub layer (the stub is an HTTP server that is listening: it can answer "
        "badly or late, not refuse connections or time out a connect); layers that can: respx, proxy"
    )
    with pytest.raises(ValueError, match=r"unknown fault layer 'tcp'; choose one of: respx, stub, proxy"):
        faults.check_supported(faults.hang(), "tcp")


def test_matrix_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"faults= must be a non-empty list"):
        matrix_cases([])
    with pytest.raises(ValueError, match=r"faults= must be a non-empty list"):
        matrix_cases("hang")
    with pytest.raises(ValueError, match=r"layers= must be a non-empty list drawn from respx, stub, proxy"):
        matrix_cases(["hang"], "stub")
    with pytest.raises(ValueError, match=r"unknown fault 'timeout'; choose one of"):
        matrix_cases(["timeout"])
    with pytest.raises(ValueError, match=r"expected a fault \(e.g. faults.latency\(0.2\)\) or one of the names"):
        matrix_cases([503])


def test_documented_table_matches_the_layers() -> None:
    documented: dict[str, tuple[str, ...]] = {}
    for line in (faults.__doc__ or "").splitlines():
        row = re.match(r"^([a-z_]+)\(.*?\)\s+(yes|-)\s+(yes|-)\s+(yes|-)\s", line)
        if row:
            documented[row.group(1)] = tuple(layer for layer, mark in zip(faults.LAYERS, row.groups()[1:]) if mark == "yes")
    assert documented == faults.support_table()
