"""Nothing of a cluster outlives its session after Ctrl-C, not even a node that was paused (SIGSTOP)
and partitioned when the session ended (a failing test unwinds the same fixture teardown); nor after
SIGKILL on the container backend, where the session's watchdog removes the node containers (a frozen
one too) and their directories."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.test_leaks import assert_nothing_left
from tests.containers.container_specs import container_ids_of
from tests.images import CLUSTER_BROKERS

INNER_SESSION = """
import json, os, signal
from pytest_ipc._owner import marked_processes, owner_token

def test_uses_clusters(nats_cluster):
    cluster = nats_cluster.cluster
    with open(os.environ["RECORD_FILE"], "w") as record:
        json.dump({{
            "owner": owner_token(),
            "pids": list(marked_processes({{owner_token()}})),
            "dirs": [str(cluster._base)],
            "runner": cluster.runner.name,
        }}, record)
    nats_cluster.pause("n2")
    nats_cluster.partition(["n1"])
    {ending}
"""
#: How long a watchdog may take to remove three containers and their directories (two busy cores).
REAP_TIMEOUT = 60.0


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ending: str, *options: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    record_file = pytester.path / "record.json"
    monkeypatch.setenv("RECORD_FILE", str(record_file))
    pytester.makepyfile(INNER_SESSION.format(ending=ending))
    result = pytester.runpytest_subprocess(*options, "-p", "no:cacheprovider")
    if not record_file.exists():
        pytest.fail(f"the inner session made no cluster:\n{result.stdout.str()}")
    return result, json.loads(record_file.read_text())


@pytest.mark.slow
def test_ctrl_c_with_a_paused_node_leaves_nothing_behind(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, record = _run(pytester, monkeypatch, "os.kill(os.getpid(), signal.SIGINT)", "--ipc-nats-backend=local")
    assert len(record["pids"]) >= 3, record  # three nats-server
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert_nothing_left(record)


@pytest.mark.slow
@pytest.mark.docker
def test_sigkill_with_a_frozen_node_container_leaves_nothing_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    image = f"--ipc-nats-image={CLUSTER_BROKERS['nats']}"
    result, record = _run(pytester, monkeypatch, "os.kill(os.getpid(), signal.SIGKILL)", "--ipc-nats-backend=container", image)
    assert result.ret == -9
    assert record["runner"] == "container", record
    deadline = time.monotonic() + REAP_TIMEOUT
    while (left := container_ids_of(docker_client, record["owner"])) or any(Path(path).exists() for path in record["dirs"]):
        assert time.monotonic() < deadline, f"left {REAP_TIMEOUT} s after the session died: containers {left}, dirs {record['dirs']}"
        time.sleep(0.1)
