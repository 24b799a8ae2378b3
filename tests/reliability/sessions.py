"""Whole pytest sessions in a subprocess, to signal or kill them and then inspect the machine.

A session runs this checkout's plugin (PYTHONPATH names it: pytester's own subprocesses would import
the installed copy), in an empty TMPDIR of its own, and its conftest writes JSON records
(``record(kind, **fields)``) into a records directory. `leftovers` lists what a session's owner
(`pytest_ipc._owner`) still has on the machine: processes, private dirs, listeners, its watchdog,
its owner record, containers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc._owner import OWNER_LABEL, marked_processes
from tests.reliability.machine import listening_anywhere, process_alive

ROOT = Path(__file__).resolve().parents[2]
#: How long a session may take to start what it holds (RabbitMQ on a busy 2-core box) or to exit.
EXIT_TIMEOUT = 120.0
#: How long leftovers may take to go once a session is gone (its watchdog's SIGTERM grace and more).
REAP_TIMEOUT = 30.0
#: Third-party plugins the inner session does not use; importing them costs seconds on a busy box.
UNNEEDED_PLUGINS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:pytest_httpserver",
    "-p",
    "no:Faker",
)

RECORDING_CONFTEST = """
import json, os, pathlib, time

RECORDS = pathlib.Path(os.environ["IPC_RECORDS"])

def record(kind, **extra):
    path = RECORDS / f"{kind}-{os.getpid()}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps({"pid": os.getpid(), **extra}))

def block_until_released():
    (RECORDS / f"running-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not (RECORDS / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
"""

HOLDING_CONFTEST = (
    RECORDING_CONFTEST
    + """
from pytest_ipc import _lifecycle, _owner

def record_owner(servers):
    ports = [getattr(server.runtime, "ports", None) or {"main": server.endpoint.port, **server.endpoint.extra_ports}
             for server in servers]
    record(
        "owner",
        token=_owner.owner_token(),
        record=str(_owner.owner().path),
        watchdog=_lifecycle.watchdog_pid(),
        pids=sorted(_owner.marked_processes({_owner.owner_token()})),
        dirs=[str(server.runtime.base) for server in servers if hasattr(server.runtime, "base")],
        ports=[port for server_ports in ports for port in server_ports.values()],
    )
"""
)

HOLDING_TESTS = """
import os, pytest
from conftest import block_until_released, record_owner

@pytest.mark.parametrize("n", range(4))
def test_holds_brokers(request, n):
    servers = [request.getfixturevalue(name) for name in os.environ["IPC_BROKERS"].split(",")]
    record_owner(servers)
    block_until_released()

def test_nothing():
    pass
"""


class Session:
    """A pytest subprocess over `tests` (module source) with `conftest`, its records and its TMPDIR."""

    def __init__(
        self,
        pytester: pytest.Pytester,
        conftest: str,
        tests: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
        name: str = "",
    ) -> None:
        """`name`: a directory of its own under the pytester dir, for several sessions in one test."""
        self.path = pytester.mkdir(name) if name else pytester.path
        self.records = self.path / "records"
        self.tmpdir = self.path / "tmp"
        self.records.mkdir()
        self.tmpdir.mkdir()
        (self.path / "conftest.py").write_text(conftest)
        (self.path / "test_inner.py").write_text(tests)
        self.prefix = list(prefix)  # e.g. `unshare --pid --fork --mount-proc`
        self.environment = {
            **os.environ,
            **(env or {}),
            "IPC_RECORDS": str(self.records),
            "TMPDIR": str(self.tmpdir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.process = self._start(args)

    def _start(self, args: Sequence[str]) -> subprocess.Popen[str]:
        command = [
            *self.prefix,
            sys.executable,
            "-m",
            "pytest",
            *UNNEEDED_PLUGINS,
            f"--basetemp={self.path / 'base'}",
            *args,
        ]
        process = subprocess.Popen(
            command,
            cwd=self.path,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a group of its own, with its xdist workers: `kill_unfinished` ends them all
        )
        UNFINISHED.append(process)
        return process

    def run_next_session(self, *args: str) -> pytest.RunResult:
        """Another session in the same place, after this one ended (or was killed)."""
        self.process = self._start(args)
        return self.finish()

    def wait_for(self, prefix: str, count: int = 1) -> list[Path]:
        """The first `count` records whose name starts with `prefix`, once they exist."""
        deadline = time.monotonic() + EXIT_TIMEOUT
        while len(found := sorted(self.records.glob(f"{prefix}*"))) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = "\n".join(self.finish().outlines)
                raise AssertionError(f"no {count} {prefix!r} records; session output:\n{output}")
            time.sleep(0.02)
        return found

    def release(self) -> None:
        """Let tests blocked in ``block_until_released()`` finish."""
        (self.records / "release").touch()

    def finish(self) -> pytest.RunResult:
        started = time.monotonic()
        try:
            output, _ = self.process.communicate(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
            raise AssertionError(f"the inner session did not exit within {EXIT_TIMEOUT} s:\n{output}") from None
        return pytest.RunResult(self.process.returncode, output.splitlines(), [], time.monotonic() - started)

    def records_of(self, kind: str) -> list[dict[str, Any]]:
        """The `kind` records, oldest first per process."""
        return [json.loads(path.read_text()) for path in sorted(self.records.glob(f"{kind}-*.json"))]

    def assert_no_temp_dirs(self) -> None:
        left = sorted(path.name for path in self.tmpdir.iterdir())
        assert left == [], f"temp dirs left in TMPDIR: {left}"


UNFINISHED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def kill_unfinished() -> Iterator[None]:
    """A test that fails before its session ended must not leave it running: SIGKILL its group
    (the session and its workers; their watchdogs then reap what they held)."""
    yield
    while UNFINISHED:
        process = UNFINISHED.pop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def leftovers(owner: Mapping[str, Any], docker_client: Any = None) -> dict[str, list[Any]]:
    """What the owner described by a record (token, dirs, ports, watchdog, record) still has here.

    Empty lists everywhere mean nothing is left. With a Docker client, containers and networks
    carrying the owner's token count too.
    """
    token = owner["token"]
    found: dict[str, list[Any]] = {
        "processes": sorted(pid for pid in marked_processes({token}) if process_alive(pid)),
        "dirs": [path for path in owner.get("dirs", []) if Path(path).exists()],
        "listeners": [port for port in owner.get("ports", []) if listening_anywhere(port)],
        "watchdog": [pid for pid in [owner.get("watchdog")] if pid is not None and process_alive(pid)],
        "record": [path for path in [owner["record"]] if Path(path).exists()],
    }
    if docker_client is not None:
        label = {"label": f"{OWNER_LABEL}={token}"}
        found["containers"] = [c["Id"][:12] for c in docker_client.api.containers(all=True, filters=label)]
        found["networks"] = [n["Name"] for n in docker_client.api.networks(filters=label)]
    return found


def wait_until_clean(
    owners: Iterable[Mapping[str, Any]],
    timeout: float = REAP_TIMEOUT,
    docker_client: Any = None,
    kinds: Collection[str] | None = None,
) -> dict[str, list[Any]]:
    """Poll until no owner in `owners` has anything (of `kinds`) left, or `timeout` passes; what is left."""
    owners = list(owners)
    deadline = time.monotonic() + timeout
    while True:
        left = {
            f"{owner['token']} {kind}": found
            for owner in owners
            for kind, found in leftovers(owner, docker_client).items()
            if found and (kinds is None or kind in kinds)
        }
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def holding_session(pytester: pytest.Pytester, brokers: Sequence[str], *args: str, **options: Any) -> Session:
    """A session whose tests hold the session fixtures `brokers` until released (`owners_holding`)."""
    environment = {"IPC_BROKERS": ",".join(brokers), **options.pop("env", {})}
    return Session(pytester, HOLDING_CONFTEST, HOLDING_TESTS, *args, env=environment, **options)


def owners_holding(session: Session, count: int = 1) -> list[dict[str, Any]]:
    """The owner records of the first `count` processes to hold brokers, once they do."""
    session.wait_for("running", count)
    owners = {record["pid"]: record for record in session.records_of("owner")}
    assert len(owners) >= count, owners
    for owner in owners.values():
        assert owner["ports"] and owner["watchdog"], owner
    return list(owners.values())
