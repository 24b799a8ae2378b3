"""A session's life and death: SIGTERM and SIGHUP unwind it like Ctrl-C, and a watchdog per process
reaps whatever that process leaves when it dies any other way (SIGKILL, a crash, os._exit).

Three nets, from the common case to the worst:

1. fixtures stop what they start; on Ctrl-C, SIGTERM (``timeout``, a cancelled CI job,
   ``docker stop``) and SIGHUP pytest unwinds them (`install_signal_handlers`); at a clean exit a
   process reaps whatever private thing of its own is still there, then removes its owner record;
2. the first private process, dir, container or network a process starts also starts its watchdog
   (`watch`): a small process in a session of its own (Ctrl-C to the terminal's process group does
   not reach it), blocked on the lock of its owner's record (`pytest_ipc._owner`). The lock is freed
   when the owner dies, however it dies; the watchdog then ends the owner's processes (SIGTERM to
   each process group, SIGKILL after `WATCHDOG_GRACE`), removes its private dirs, containers and
   networks, and its record. A parent-death signal would not do: it fires when the *thread* that
   forked exits, grandchildren (RabbitMQ's VM) do not inherit it, and it cannot remove containers;
3. every session starts with `sweep`, which reaps the records nobody holds (an owner and its
   watchdog both killed); with nothing to reap it costs a directory listing.

A process that is pid 1 of its PID namespace (pytest as a container's entrypoint) takes its watchdog
with it when it is killed: its processes die with the namespace, and what it has outside (containers
on the engine) waits for the next session that shares its records directory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import stat
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_ipc._owner import (
    DIR_PREFIX,
    OwnerRecord,
    dead_owners,
    marked_processes,
    owner,
    same_place,
    wait_for_death,
)
from pytest_ipc._proc import process_stat

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: How long the watchdog lets an orphan handle SIGTERM before SIGKILL (RabbitMQ stops in about 1 s).
WATCHDOG_GRACE = 3.0
#: SIGKILL is delivered asynchronously: how long to wait until the killed processes are gone.
EXIT_TIMEOUT = 5.0
POLL_INTERVAL = 0.02


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Unwind like Ctrl-C: pytest tears every fixture down and the session ends as interrupted."""
    __tracebackhide__ = True  # pytest reports where the session was, not this line
    raise KeyboardInterrupt(f"{signal.Signals(signum).name} received; torn down as after Ctrl-C")


def install_signal_handlers() -> list[signal.Signals]:
    """Handle SIGTERM and SIGHUP like Ctrl-C where nobody handles them yet (default disposition, main
    thread): someone else's handler or ``nohup`` is left alone. Returns what was installed."""
    if threading.current_thread() is not threading.main_thread():
        return []
    installed = []
    for signum in HANDLED_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _interrupt)
            installed.append(signum)
    return installed


def restore_signal_handlers(installed: list[signal.Signals]) -> None:
    """Put back the default disposition where ours is still in place."""
    for signum in installed:
        if signal.getsignal(signum) is _interrupt:
            signal.signal(signum, signal.SIG_DFL)


_watchdog_pid: int | None = None
_watch_lock = threading.Lock()


def watch() -> OwnerRecord:
    """This process's owner record, with its watchdog started (once; call it before starting
    anything private). A process that starts nothing private never pays for the watchdog."""
    global _watchdog_pid
    record = owner()
    with _watch_lock:
        if _watchdog_pid is None:
            _watchdog_pid = _spawn_watchdog(record.path)
            record.holds_resources = True
    return record


def watchdog_pid() -> int | None:
    """The pid of this process's watchdog, once `watch` started it."""
    return _watchdog_pid


def _spawn_watchdog(record: Path) -> int:
    """``python -S -m pytest_ipc._lifecycle RECORD`` in a new session, stdio on /dev/null.

    posix_spawn, not Popen: nothing to wait for (the watchdog outlives us by design), so no Popen
    object is left to warn at exit. It must import this very package and what we import (the docker
    SDK): its PYTHONPATH is the directory this package is in, then our sys.path (``-S`` skips the
    site hooks that put that together, and an editable install's import hook with them).
    """
    package_parent = Path(__file__).resolve().parent.parent
    search_path = os.pathsep.join([str(package_parent), *(os.path.abspath(entry) for entry in sys.path)])
    stdio = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(
        sys.executable,
        [sys.executable, "-S", "-m", __name__, str(record)],
        {**os.environ, "PYTHONPATH": search_path},
        file_actions=stdio,
        setsid=True,
    )


def _forget_watchdog_after_fork() -> None:
    """A forked child gets an owner record of its own, hence a watchdog of its own."""
    global _watchdog_pid, _watch_lock
    _watchdog_pid, _watch_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_watchdog_after_fork)


def sweep() -> list[str]:
    """Reap what dead owners left (every session does this at its start); returns their tokens."""
    reaped = []
    for dead in dead_owners():
        done = False
        try:
            done = reap(dead.token, dead.fields, grace=0.0)
        finally:
            dead.release(done)
        reaped.append(dead.token)
    return reaped


def reap(token: str, fields: dict[str, Any], grace: float) -> bool:
    """End what the owner of `token` left, as its record's `fields` describe: its processes (SIGTERM,
    then SIGKILL after `grace` seconds; at once when 0), private dirs, containers and networks, and
    the files of the shared instances it kept (a killed keeper's).

    True when nothing of it can remain. Otherwise `fields` is left saying what is still to do, for a
    later session: Docker engines that did not answer, or private dirs in a temp dir that this
    process sees as another directory (a different mount namespace).
    """
    # Containers first: a cluster node's container writes into a private dir mounted into it.
    unreached = []
    engines = fields.get("engines", [])
    if engines:  # the Docker helpers only where the owner had containers
        from pytest_ipc import docker_engine
    for engine in engines:
        try:
            docker_engine.remove_owned(engine, token)
        except docker_engine.DockerEngineError:
            unreached.append(engine)
    fields["engines"] = unreached
    if fields.get("shared"):
        from pytest_ipc._shared import remove_files

        for key in fields.pop("shared"):
            remove_files(key, unless_kept=True)
    tmp = fields.get("tmp")
    if isinstance(tmp, str):
        if Path(tmp).exists() and not same_place(Path(tmp), str(fields.get("tmp_place"))):
            return False
        end_processes(marked_processes({token}), grace)
        _remove_dirs(Path(tmp), token)
        for done in ("tmp", "tmp_place"):
            fields.pop(done, None)
    return not unreached


@atexit.register  # after `pytest_ipc._owner` registered its sign-off: this runs first
def _reap_ourselves() -> None:
    """At a clean exit, reap what fixtures did not stop, so the record can go at once: a watchdog
    cannot always do it after us (as pid 1 of a PID namespace, the watchdog dies with us)."""
    record = owner() if _watchdog_pid is not None else None
    if record is not None and record.pid == os.getpid() and reap(record.token, record.fields, grace=0.0):
        record.holds_resources = False


def end_processes(processes: Mapping[int, str], grace: float) -> None:
    """SIGTERM the process group of each of `processes` (our processes lead groups of their own),
    SIGKILL whatever is left after `grace` seconds, and wait (bounded) until they are gone."""
    protected = {0, 1, os.getpgrp()}
    targets: dict[tuple[int, bool], list[int]] = {}  # (group or lone pid, is a group) -> its marked pids
    for pid in processes:
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if pid != os.getpid():
            targets.setdefault((pid, False) if group in protected else (group, True), []).append(pid)
    if grace > 0:
        _signal(targets, signal.SIGTERM)
        _wait_until_gone(processes, grace)
    # Only where a marked process still runs: a group that has ended may get its number reused.
    _signal({target: pids for target, pids in targets.items() if any(map(_alive, pids))}, signal.SIGKILL)
    _wait_until_gone(processes, EXIT_TIMEOUT)


def _signal(targets: Mapping[tuple[int, bool], list[int]], signum: signal.Signals) -> None:
    for target, is_group in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            (os.killpg if is_group else os.kill)(target, signum)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has ended: it holds no port, file or memory)."""
    stat = process_stat(pid)
    return stat is not None and stat.running


def _wait_until_gone(pids: Mapping[int, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)


def _remove_dirs(tmp: Path, token: str) -> None:
    uid = os.getuid()
    for path in tmp.glob(f"{DIR_PREFIX}{token}-*"):
        try:
            info = path.lstat()
        except FileNotFoundError:  # another reaper was faster
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid:
            shutil.rmtree(path, ignore_errors=True)


def main(record: str) -> None:
    """The watchdog: wait until the owner of `record` dies, then reap what it left."""
    os.chdir("/")  # hold no directory of the owner's
    dead = wait_for_death(Path(record))
    if dead is None:
        return
    done = False
    try:
        done = reap(dead.token, dead.fields, WATCHDOG_GRACE)
    finally:
        dead.release(done)


__all__ = [
    "HANDLED_SIGNALS",
    "end_processes",
    "install_signal_handlers",
    "reap",
    "restore_signal_handlers",
    "sweep",
    "watch",
    "watchdog_pid",
]


if __name__ == "__main__":
    main(sys.argv[1])
