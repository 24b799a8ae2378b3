"""The timeline a failed cluster verdict shows: runs of one client's events fold into one line, the
harness's events always show, and a usage error names the valid partition modes."""

from __future__ import annotations

import pytest

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.cluster.nats import NatsCluster
from pytest_ipc.cluster.timeline import CLUSTER, Timeline


def test_a_run_of_one_clients_events_reads_as_one_line() -> None:
    timeline = Timeline()
    for index in range(50):
        timeline.record("writer", f"publish m-{index}: confirmed", kind="publish-confirmed")
    timeline.record(CLUSTER, "kill n1", kind="kill", out=frozenset({"n1"}))
    timeline.record("writer", "publish m-50: refused", kind="publish-refused")
    lines = timeline.render().splitlines()
    assert len(lines) == 3, lines
    assert "publish m-0: confirmed ... publish m-49: confirmed (50 events)" in lines[0]
    assert lines[1].endswith("cluster  kill n1")
    assert "publish m-50: refused" in lines[2]


def test_a_long_timeline_keeps_every_cluster_event() -> None:
    """Beyond the limit the middle goes, except the faults: the verdict's message must name them."""
    timeline = Timeline()
    for index in range(40):  # two clients taking turns: every event is a line of its own
        timeline.record("a" if index % 2 else "b", f"event {index}", kind=f"kind-{index % 3}")
    timeline.record(CLUSTER, "partition {n1} | {client, n2, n3} (refuse, 4 link(s) cut)", kind="partition", out=frozenset({"n1"}))
    for index in range(40, 80):
        timeline.record("a" if index % 2 else "b", f"event {index}", kind=f"kind-{index % 3}")
    rendered = timeline.render(limit=20)
    assert "partition {n1} | {client, n2, n3}" in rendered, rendered
    assert rendered.count("more line(s)") == 2 and len(rendered.splitlines()) == 23, rendered


def test_an_unknown_partition_mode_is_a_usage_error() -> None:
    cluster = NatsCluster()
    with pytest.raises(IpcUsageError, match=r"unknown partition mode 'cut'; valid: refuse, blackhole"):
        cluster.partition(["n1"], mode="cut")  # type: ignore[arg-type]


def test_a_cluster_needs_a_node() -> None:
    with pytest.raises(IpcUsageError, match=r"at least one node, got size=0"):
        NatsCluster(size=0)
