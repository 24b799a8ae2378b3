"""Ownership of leftovers is judged by a lock its owner holds, never by a pid: a live owner in another
PID namespace is alive, a dead one whose pid was reused is dead. And judging it is cheap: a session
with nothing to reap pays a directory listing; a process that starts nothing private has no watchdog.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc import _lifecycle, _owner
from pytest_ipc._owner import OWNER_VARIABLE, RECORD_SUFFIX, owner_alive, owner_token, records_dir
from tests.reliability.machine import process_alive
from tests.reliability.sessions import ROOT, Session, wait_until_clean

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

#: A sweep with nothing to reap lists a directory and tries a lock per live owner.
SWEEP_BOUND = 0.010
#: Starting the watchdog costs its owner one posix_spawn (the watchdog's own start runs beside it).
WATCH_BOUND = 0.050

OWNER_SCRIPT = """
import json, os, sys
from pytest_ipc import _lifecycle, _owner
from pytest_ipc.backends.local import LocalProcess, make_private_dir

started = __import__("time").perf_counter()
record = _lifecycle.watch() if sys.argv[1] == "private" else _owner.owner()
info = {"watch_seconds": __import__("time").perf_counter() - started}
info.update(token=record.token, record=str(record.path), pid=os.getpid(), watchdog=_lifecycle.watchdog_pid())
if sys.argv[1] == "private":
    base = make_private_dir("sleeper")
    sleeper = LocalProcess("sleeper", ["sleep", "300"], workdir=base)
    sleeper.start()
    info.update(dirs=[str(base)], ports=[], sleeper=sleeper.pid)
print(json.dumps(info), flush=True)
sys.stdin.read()
"""


class Owner:
    """A process of its own that owns a record (``private``: and a watchdog, a dir, a sleeper)."""

    def __init__(self, mode: str, prefix: Sequence[str] = ()) -> None:
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-c", OWNER_SCRIPT, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        assert self.process.stdout is not None
        self.info: dict[str, Any] = json.loads(self.process.stdout.readline())

    def exit(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(30)
        self.process.stdout.close()

    def kill(self) -> None:
        self.process.kill()
        self.exit()


@pytest.fixture
def owners() -> Iterator[list[Owner]]:
    """Owners a test starts; those it left running exit cleanly at teardown (their watchdogs reap)."""
    started: list[Owner] = []
    yield started
    for owner in started:
        if owner.process.poll() is None:
            owner.exit()


def test_a_live_owner_is_alive_and_a_killed_one_is_dead(owners: list[Owner]) -> None:
    owner = Owner("plain")
    owners.append(owner)
    assert owner_alive(owner.info["token"])
    assert owner_alive(owner_token())  # ourselves: we hold our own lock
    owner.kill()
    assert Path(owner.info["record"]).exists()
    assert not owner_alive(owner.info["token"])


def test_an_owner_that_started_nothing_private_removes_its_record_at_exit(owners: list[Owner]) -> None:
    owner = Owner("plain")
    owners.append(owner)
    assert owner.info["watchdog"] is None
    owner.exit()
    assert not Path(owner.info["record"]).exists()
    assert not owner_alive(owner.info["token"])


def test_a_token_from_another_records_directory_is_never_judged_dead() -> None:
    """A process that sees another directory under the records path (a container with its own
    /dev/shm) cannot tell, so the owner counts as alive."""
    assert owner_alive(f"{secrets.token_hex(8)}-ffff.1")


@pytest.fixture
def dead_record() -> Iterator[Callable[[dict[str, Any]], tuple[str, Path]]]:
    """Writes the record of a dead owner (nobody holds its lock) with given fields: (token, path)."""
    made: list[Path] = []

    def write(fields: dict[str, Any]) -> tuple[str, Path]:
        directory = records_dir()
        assert directory is not None
        owner_id = secrets.token_hex(8)
        made.append(directory / f"{owner_id}{RECORD_SUFFIX}")
        made[-1].write_text(json.dumps(fields) + "\n")
        return f"{owner_id}-{owner_token().partition('-')[2]}", made[-1]

    yield write
    for path in made:
        path.unlink(missing_ok=True)


def test_a_record_whose_engine_does_not_answer_is_kept_with_only_that_left_to_do(
    dead_record: Callable[[dict[str, Any]], tuple[str, Path]], tmp_path: Path
) -> None:
    engine = f"unix://{tmp_path}/absent.sock"
    token, record = dead_record({"pid": 1, "tmp": str(tmp_path), "tmp_place": place_of(tmp_path), "engines": [engine]})
    _lifecycle.sweep()
    assert json.loads(record.read_text()) == {"pid": 1, "engines": [engine]}, "processes and dirs are done"
    record.write_text(json.dumps({"pid": 1, "engines": []}) + "\n")  # as if the engine had answered
    assert token in _lifecycle.sweep()
    assert not record.exists()


def test_an_owner_whose_temp_dir_is_another_directory_here_is_left_alone(
    dead_record: Callable[[dict[str, Any]], tuple[str, Path]], tmp_path: Path
) -> None:
    """Its temp dir's path leads elsewhere for us (another mount namespace): we cannot tell what is
    its, so nothing of it is touched, not even its processes, and the record stays for a process
    that sees what the owner saw."""
    token, record = dead_record({"pid": 1, "tmp": str(tmp_path), "tmp_place": "0.0", "engines": []})
    orphan = subprocess.Popen(["sleep", "300"], env={**os.environ, OWNER_VARIABLE: token}, start_new_session=True)
    try:
        _lifecycle.sweep()
        assert orphan.poll() is None and record.exists()
    finally:
        orphan.kill()
        orphan.wait()


def test_a_reused_pid_does_not_keep_an_orphan_alive(dead_record: Callable[[dict[str, Any]], tuple[str, Path]]) -> None:
    """The record of a dead owner names a pid that runs again (ours): its orphan is still reaped."""
    token, record = dead_record({"pid": os.getpid(), "tmp": "/nonexistent", "tmp_place": "0.0", "engines": []})
    orphan = subprocess.Popen(["sleep", "300"], env={**os.environ, OWNER_VARIABLE: token}, start_new_session=True)
    try:
        assert not owner_alive(token)
        assert token in _lifecycle.sweep()
        assert orphan.wait(10) == -signal.SIGKILL
        assert not record.exists()
    finally:
        orphan.kill()
        orphan.wait()


def place_of(path: Path) -> str:
    info = path.stat()
    return f"{info.st_dev:x}.{info.st_ino:x}"


def _child_view(parent_token: str, answer: Connection) -> None:
    answer.send((owner_token(), owner_alive(parent_token)))


def test_a_forked_child_has_a_record_of_its_own_and_keeps_no_lock_of_its_parent() -> None:
    parent = owner_token()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_view, args=(parent, sender))
    child.start()
    child_token, parent_alive = receiver.recv()
    child.join(30)
    assert child_token != parent and parent_alive
    assert not owner_alive(child_token) and owner_alive(parent)
    _lifecycle.sweep()  # the child left through os._exit, without signing off


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], check=False, capture_output=True)
    return probe.returncode == 0


needs_pid_namespaces = pytest.mark.skipif(not _unshare_works(), reason="unshare --pid needs root (or user namespaces)")
OTHER_PID_NAMESPACE = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")


@needs_pid_namespaces
def test_an_owner_in_another_pid_namespace_is_alive_until_its_namespace_dies(owners: list[Owner]) -> None:
    """It runs as pid 1 of its namespace, which means nothing here; its lock says it is alive. When
    the namespace dies (its watchdog with it), the next sweep here reaps what it left."""
    owner = Owner("private", prefix=OTHER_PID_NAMESPACE)
    owners.append(owner)
    assert owner.info["pid"] == 1
    assert owner_alive(owner.info["token"])
    assert owner.info["token"] not in _lifecycle.sweep()
    [sleeper] = _owner.marked_processes({owner.info["token"]})  # its sleeper, seen from here
    assert process_alive(sleeper) and Path(owner.info["dirs"][0]).exists()

    owner.kill()  # unshare dies, --kill-child kills pid 1: the whole namespace goes
    deadline = time.monotonic() + 10
    while owner_alive(owner.info["token"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not owner_alive(owner.info["token"])
    _lifecycle.sweep()
    owner.info["watchdog"] = None  # its pid was one of the namespace's
    assert wait_until_clean([owner.info], timeout=0) == {}


def test_a_sweep_with_nothing_to_reap_costs_a_directory_listing(record_property: Any) -> None:
    owner_token()  # at least one live record to try
    _lifecycle.sweep()  # whatever was dead is gone now
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        reaped = _lifecycle.sweep()
        timings.append(time.perf_counter() - started)
        assert reaped == []
    record_property("sweep_seconds_min", min(timings))
    record_property("sweep_seconds_median", statistics.median(timings))
    # The least of 20 tries: what the sweep costs, not how long a busy machine kept it waiting.
    assert min(timings) < SWEEP_BOUND, sorted(timings)


def test_the_watchdog_costs_one_spawn_and_only_where_something_private_starts(
    owners: list[Owner], record_property: Any
) -> None:
    timings = []
    for _ in range(3):
        owner = Owner("private")
        owners.append(owner)
        assert process_alive(owner.info["watchdog"])
        timings.append(owner.info["watch_seconds"])
        owner.exit()
        assert wait_until_clean([owner.info]) == {}  # the watchdog went with it
    record_property("watch_seconds", timings)
    assert min(timings) < WATCH_BOUND, timings
    plain = Owner("plain")
    owners.append(plain)
    assert plain.info["watchdog"] is None


STUB_ONLY_TESTS = """
import httpx
from pytest_ipc import _lifecycle, _owner
from conftest import record

def test_uses_only_the_stub(http_stub):
    http_stub.expect("GET", "/").respond(text="ok")
    assert httpx.get(http_stub.url).text == "ok"
    record("owner", token=_owner.owner_token(), record=str(_owner.owner().path), watchdog=_lifecycle.watchdog_pid())
"""


def test_a_session_that_starts_nothing_private_has_no_watchdog_and_leaves_no_record(pytester: pytest.Pytester) -> None:
    from tests.reliability.sessions import RECORDING_CONFTEST

    session = Session(pytester, RECORDING_CONFTEST, STUB_ONLY_TESTS)
    session.finish().assert_outcomes(passed=1)
    [owner] = session.records_of("owner")
    assert owner["watchdog"] is None
    assert wait_until_clean([owner], timeout=0) == {}
