"""Nothing of a cluster outlives its session after Ctrl-C, not even a node that was paused (SIGSTOP)
and partitioned when the session ended (a failing test unwinds the same fixture teardown)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.brokers.test_leaks import assert_nothing_left

INNER_SESSION = """
import json, os, signal
from pytest_ipc._owner import marked_processes, owner_token

def test_uses_clusters(nats_cluster):
    with open(os.environ["RECORD_FILE"], "w") as record:
        json.dump({{
            "owner": owner_token(),
            "pids": list(marked_processes({{owner_token()}})),
            "dirs": [str(nats_cluster.cluster._base)],
        }}, record)
    nats_cluster.pause("n2")
    nats_cluster.partition(["n1"])
    {ending}
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ending: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    record_file = pytester.path / "record.json"
    monkeypatch.setenv("RECORD_FILE", str(record_file))
    pytester.makepyfile(INNER_SESSION.format(ending=ending))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    record = json.loads(record_file.read_text())
    assert len(record["pids"]) >= 3, record  # three nats-server
    return result, record


@pytest.mark.slow
def test_ctrl_c_with_a_paused_node_leaves_nothing_behind(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, record = _run(pytester, monkeypatch, "os.kill(os.getpid(), signal.SIGINT)")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert_nothing_left(record)
