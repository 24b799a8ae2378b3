"""Nothing outlives a session: not after a failing test, not after Ctrl-C, and what a SIGKILLed
session left behind is reaped by the next one. And every listener is on loopback."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
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


#: 127.0.0.1 and ::1 as /proc/net/tcp* write them.
LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}


@dataclass(frozen=True)
class TcpSocket:
    """A TCP socket of a process, as /proc/net/tcp* shows it (addresses in hex)."""

    local_address: str
    local_port: int
    remote_port: int
    listening: bool
    established: bool


def tcp_sockets(pids: Iterable[int]) -> list[TcpSocket]:
    """Every TCP socket that one of `pids` holds open (each process's network namespace is ours)."""
    by_inode = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            (local, local_port), (_remote, remote_port) = (address.rsplit(":", 1) for address in fields[1:3])
            by_inode[fields[9]] = TcpSocket(local, int(local_port, 16), int(remote_port, 16), fields[3] == "0A", fields[3] == "01")
    held = []
    for pid in pids:
        with contextlib.suppress(OSError):  # a process that has ended holds nothing
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = fd.readlink().name
                    if target.startswith("socket:[") and target[8:-1] in by_inode:
                        held.append(by_inode[target[8:-1]])
    return held


def test_every_listener_of_our_brokers_is_on_loopback(
    rabbitmq_server: BrokerServer,
    redis_server: BrokerServer,
    nats_server: BrokerServer,
    mqtt_server: BrokerServer,
) -> None:
    ours = [socket.local_address for socket in tcp_sockets(processes_of(owner_token())) if socket.listening]
    if not ours:
        pytest.skip("no local brokers in this session")
    assert len(ours) >= 7, ours  # amqp, stomp, dist, epmd, redis, nats (2), mqtt
    assert [address for address in ours if address not in LOOPBACK_HEX] == []
