"""The vocabulary refuses bad input with the choices, labels read well, and the documented support
table is the one the layers implement, per fault instance."""

from __future__ import annotations

import re

import pytest

from pytest_ipc import faults
from pytest_ipc.faults.matrix import matrix_cases


def test_make_builds_faults_by_name() -> None:
    assert faults.make("latency", delay=0.2) == faults.latency(0.2)
    assert faults.make("status", code=429, times=3) == faults.fail_first(3, status=429)
    assert faults.make("outage") == faults.outage()


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("latncy", {}, r"unknown fault 'latncy'; choose one of: latency, hang, outage, reset, status, grpc_status, thrift_error, connect"),
        ("dribble", {}, r"dribble: missing parameter\(s\) duration; dribble takes: probability, seed, times, duration, pieces, piece_size"),
        ("hang", {"seconds": 1}, r"hang: unknown parameter\(s\) seconds; hang takes: probability, seed, times"),
        ("latency", {"delay": -0.1}, r"latency: delay must be a finite number >= 0, got -0.1"),
        ("latency", {"delay": float("nan")}, r"latency: delay must be a finite number"),
        ("dribble", {"duration": 0}, r"dribble: duration must be > 0, got 0"),
        ("status", {"code": 99}, r"status: code must be an int from 200 to 599 \(a final HTTP status\), got 99"),
        ("status", {"retry_after": -1}, r"status: retry_after \(whole seconds\) must be an int >= 0"),
        ("status", {"times": 0}, r"status: times must be an int >= 1, got 0"),
        ("bandwidth", {"rate": 1.5}, r"bandwidth: rate \(bytes per second\) must be an int >= 1"),
        ("reset", {"seed": "x"}, r"reset: seed must be an int or None"),
    ],
)
def test_bad_input_is_a_usage_error(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(faults.FaultUsageError, match=message):
        faults.make(name, **params)


def test_labels_make_readable_ids() -> None:
    cells, left_out = matrix_cases([faults.latency(0.2), "outage", faults.status(503), faults.fail_first(2)], ["stub", "proxy"])
    assert [cell.id for cell in cells] == [
        "stub-latency-200ms", "stub-status-503", "stub-fail-first-2x503", "proxy-latency-200ms", "proxy-outage",
    ]  # fmt: skip
    assert [cell.id for cell in left_out] == ["stub-outage", "proxy-status-503", "proxy-fail-first-2x503"]
    assert faults.Latency.uniform(0.05, 0.2).label == "latency-50-200ms"
    assert faults.dribble(1.5).label == "dribble-1500ms"
    assert faults.bandwidth(1000).label == "bandwidth-1000Bps"


def test_unsupported_fault_names_the_layers_that_can() -> None:
    with pytest.raises(
        faults.FaultNotSupported,
        match=r"^status-503 cannot be injected at the proxy layer \(.*\); layers that can: respx, stub, grpc, thrift$",
    ):
        faults.check_supported(faults.status(503), "proxy")
    with pytest.raises(faults.FaultUsageError, match=r"unknown fault layer 'tcp'; choose one of: respx, stub, proxy, grpc, thrift"):
        faults.check_supported(faults.hang(), "tcp")


def test_support_is_decided_per_instance() -> None:
    assert faults.layers_for(faults.latency(0.1)) == ("stub", "proxy", "grpc", "thrift", "dns")
    assert faults.layers_for(faults.Latency.uniform(0.1, 0.2)) == ("stub", "proxy", "grpc", "thrift", "dns")
    assert faults.layers_for(faults.Latency.lognormal(0.1, 0.5)) == ("stub", "grpc", "thrift", "dns")
    assert faults.layers_for(faults.reset(times=2)) == ("respx", "stub", "thrift")
    assert faults.layers_for(faults.reset(seed=3)) == ("respx", "stub", "thrift")
    assert faults.layers_for(faults.reset(probability=0.5)) == ("respx", "stub", "proxy", "thrift")  # toxicity, per connection
    assert faults.layers_for(faults.outage(probability=0.5)) == ("respx",)
    assert faults.layers_for(faults.bandwidth(1500)) == ("stub",)
    assert faults.layers_for(faults.bandwidth(2000)) == ("stub", "proxy")
    with pytest.raises(
        faults.FaultNotSupported,
        match=r"latency-lognormal-100ms cannot be injected at the proxy layer \(the latency toxic draws from latency \+- jitter",
    ):
        faults.check_supported(faults.Latency.lognormal(0.1, 0.5), "proxy")
    with pytest.raises(
        faults.FaultNotSupported, match=r"reset \(times=2\) cannot be injected at the proxy layer \(a toxic acts on every connection"
    ):
        faults.check_supported(faults.reset(times=2), "proxy")


def test_matrix_arguments_are_checked() -> None:
    with pytest.raises(faults.FaultUsageError, match=r"faults= must be a non-empty list"):
        matrix_cases([])
    with pytest.raises(faults.FaultUsageError, match=r"faults= must be a non-empty list"):
        matrix_cases("hang")
    with pytest.raises(faults.FaultUsageError, match=r"layers= must be a non-empty list drawn from respx, stub, proxy"):
        matrix_cases(["hang"], "stub")
    with pytest.raises(faults.FaultUsageError, match=r"unknown fault 'timeout'; choose one of"):
        matrix_cases(["timeout"])
    with pytest.raises(faults.FaultUsageError, match=r"expected a fault \(e.g. faults.latency\(0.2\)\) or one of the names"):
        matrix_cases([503])
    with pytest.raises(
        faults.FaultNotSupported, match=r"status-503 cannot be injected at the proxy layer .*; layers that can: respx, stub, grpc, thrift"
    ):
        matrix_cases([faults.status(503)], ["proxy"])  # an exact pair no layer asked for can express


def test_documented_table_matches_the_layers() -> None:
    documented: dict[str, tuple[str, ...]] = {}
    for line in (faults.__doc__ or "").splitlines():
        row = re.match(r"^([a-z_]+)\(.*?\)\s+(yes|-)\s+(yes|-)\s+(yes|-)\s+(yes|-)\s+(yes|-)\s+(yes|-)\s", line)
        if row:
            documented[row.group(1)] = tuple(layer for layer, mark in zip(faults.LAYERS, row.groups()[1:], strict=True) if mark == "yes")
    assert documented == faults.support_table()
