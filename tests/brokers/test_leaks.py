"""Nothing outlives a session: not after a failing test, not after Ctrl-C, and what a SIGKILLed
session left behind is reaped by the next one. And every listener is on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc._owner import marked_processes, owner_token
from pytest_ipc.brokers.endpoint import BROKER_KINDS
from pytest_ipc.brokers.server import BrokerServer

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

INNER_SESSION = """
import json, os, signal
from pytest_ipc._lifecycle import watchdog_pid
from pytest_ipc._owner import marked_processes, owner_token

def test_uses_brokers({fixtures}):
    servers = [{servers}]
    with open(os.environ["RECORD_FILE"], "w") as record:
        json.dump({{
            "owner": owner_token(),
            "pids": list(marked_processes({{owner_token()}})),
            "dirs": [str(server.runtime.base) for server in servers],
        }}, record)
    {ending}
"""
FAST_BROKERS = ("redis_broker", "nats_broker", "mqtt_broker")
ALL_BROKERS = ("rabbitmq_broker", *FAST_BROKERS)


def processes_of(owner_token: str) -> list[int]:
    return sorted(pid for pid, owner in marked_processes().items() if owner == owner_token)


def wait_until_gone(owner_token: str, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := processes_of(owner_token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def run_inner_session(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ending: str,
    fixtures: tuple[str, ...] = FAST_BROKERS,
) -> tuple[pytest.RunResult, dict[str, Any]]:
    record_file = pytester.path / "record.json"
    monkeypatch.setenv("RECORD_FILE", str(record_file))
    pytester.makepyfile(
        INNER_SESSION.format(
            fixtures=", ".join(fixtures),
            servers=", ".join(f"{name}.server" for name in fixtures),
            ending=ending,
        )
    )
    result = pytester.runpytest_subprocess(*(f"--ipc-{kind}-backend=local" for kind in BROKER_KINDS), "-p", "no:cacheprovider")
    record = json.loads(record_file.read_text())
    assert len(record["pids"]) >= len(fixtures), record  # the brokers really ran
    return result, record


def assert_nothing_left(record: dict[str, Any]) -> None:
    assert wait_until_gone(record["owner"]) == []
    assert [path for path in record["dirs"] if Path(path).exists()] == []


@pytest.mark.slow
def test_a_failing_test_leaves_nothing_behind(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """RabbitMQ included: its node, its helpers and its private epmd must all go."""
    result, record = run_inner_session(pytester, monkeypatch, "assert False, 'the test fails'", ALL_BROKERS)
    result.assert_outcomes(failed=1)
    assert_nothing_left(record)


def test_ctrl_c_leaves_nothing_behind(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result, record = run_inner_session(pytester, monkeypatch, "os.kill(os.getpid(), signal.SIGINT)")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert_nothing_left(record)


def test_next_session_reaps_what_a_sigkilled_one_left(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    ending = "os.kill(watchdog_pid(), signal.SIGKILL); os.kill(os.getpid(), signal.SIGKILL)"
    result, record = run_inner_session(pytester, monkeypatch, ending)
    assert result.ret == -9
    assert processes_of(record["owner"]) != []  # orphans, once the watchdog is killed too
    reaper = "from pytest_ipc._lifecycle import sweep; sweep()"
    subprocess.run([sys.executable, "-c", reaper], check=True, timeout=60)
    assert_nothing_left(record)


def _listening_inodes() -> dict[str, str]:
    """Socket inode -> local address (hex, as in /proc/net/tcp*) of every TCP listener."""
    listeners = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listeners[fields[9]] = fields[1].rsplit(":", 1)[0]
    return listeners


def test_every_listener_of_our_brokers_is_on_loopback(
    rabbitmq_server: BrokerServer,
    redis_server: BrokerServer,
    nats_server: BrokerServer,
    mqtt_server: BrokerServer,
) -> None:
    listeners = _listening_inodes()
    ours = []
    for pid in processes_of(owner_token()):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listeners:
                ours.append(listeners[target[8:-1]])
    if not ours:
        pytest.skip("no local brokers in this session")
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1
    assert len(ours) >= 7, ours  # amqp, stomp, dist, epmd, redis, nats (2), mqtt
    assert [address for address in ours if address not in loopback] == []
