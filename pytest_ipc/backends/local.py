"""The local backend's machinery: private processes from binaries on PATH that cannot outlive us.

Every process runs in its own process group (stopping it stops its children: a broker's VM, its
helpers), works in a private 0700 directory named after its owner (where its log goes too), and
carries its owner's token in ``PYTEST_IPC_OWNER_TOKEN`` (see `pytest_ipc._owner`). The fixture stops what
it started; when the owner dies first, however it dies, its watchdog (`pytest_ipc._lifecycle`)
ends the process groups and removes the directories.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from pytest_ipc._errors import IpcError, IpcUsageError
from pytest_ipc._lifecycle import watch
from pytest_ipc._owner import DIR_PREFIX, OWNER_VARIABLE
from pytest_ipc._proc import groups_running

READY_POLL_INTERVAL = 0.02
EXIT_POLL_INTERVAL = 0.002  # killed processes are gone within milliseconds: a teardown waits no longer
GROUP_EXIT_TIMEOUT = 2.0
#: How servers say that a port they were given is taken (Redis, NATS, Mosquitto; Erlang's atom).
ADDRESS_IN_USE = re.compile(r"address already in use|eaddrinuse", re.IGNORECASE)


class ProcessStartError(IpcError):
    """A local process exited or never became ready; the message carries the tail of its log."""

    @property
    def address_in_use(self) -> bool:
        """True when the process said a port it was given is taken (start again on other ports)."""
        return ADDRESS_IN_USE.search(str(self)) is not None


class LocalProcess:
    """One managed child process; `start()` returns once `ready()` says so, `stop()` always succeeds."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        ready_timeout: float = 60.0,
        stop_timeout: float = 15.0,
        pipes: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.workdir = workdir
        self.env = {**os.environ, **(env or {})}
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.pipes = pipes  # stdin and stdout are pipes to talk to it (stderr still goes to the log)
        self.log_path = workdir / f"{name}.log"
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process's pid, which is also its process group's id."""
        return self._popen.pid if self._popen is not None else None

    @property
    def stdio(self) -> tuple[IO[bytes], IO[bytes]]:
        """(stdin, stdout) of a process started with ``pipes=True``."""
        if self._popen is None or self._popen.stdin is None or self._popen.stdout is None:
            raise IpcUsageError(f"{self.name} is not running with pipes (pipes=True)")
        return self._popen.stdin, self._popen.stdout

    @property
    def running(self) -> bool:
        """True until the process has exited."""
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        """Start the process and wait until `ready` says so; nothing is left running on failure."""
        if self.running:
            raise IpcUsageError(f"{self.name} is already running (pid {self.pid}); stop() it first")
        token = watch().token
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                env={**self.env, OWNER_VARIABLE: token},
                cwd=self.workdir,
                stdin=subprocess.PIPE if self.pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.pipes else log,
                stderr=log if self.pipes else subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches its children
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise

    def _wait_until_ready(self) -> None:
        """Poll `ready`; a probe that raises counts as "not yet" (the last error is reported)."""
        if self.ready is None:
            return
        deadline = time.monotonic() + self.ready_timeout
        last_problem = "the probe returned False"
        while True:
            if not self.running:
                raise ProcessStartError(f"{self.name} exited with status {self._returncode()}{self._log_tail()}")
            try:
                if self.ready():
                    return
            except Exception as error:  # whatever a probe raises means "not yet"
                last_problem = f"the probe raised {type(error).__name__}: {error}"
            if time.monotonic() > deadline:
                raise ProcessStartError(
                    f"{self.name} not ready within {self.ready_timeout} s ({last_problem}){self._log_tail()}"
                )
            time.sleep(READY_POLL_INTERVAL)

    def _returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  " + "\n  ".join(tail) if tail else ""

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL once `stop_timeout` has passed."""
        self._signal_and_wait(signal.SIGTERM, self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL to the whole group: a crash, as far as the process can tell."""
        self._signal_and_wait(signal.SIGKILL, self.stop_timeout)

    def _signal_and_wait(self, signum: signal.Signals, timeout: float) -> None:
        popen = self._popen
        if popen is None:
            return
        _signal_group(popen.pid, signum)
        self._reap(timeout)
        _wait_for_groups_exit([popen.pid], GROUP_EXIT_TIMEOUT)
        self._close_pipes()

    def _reap(self, timeout: float) -> None:
        """Wait for the signalled leader (SIGKILL after `timeout`), then SIGKILL what outlived it."""
        popen = self._popen
        assert popen is not None
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(popen.pid, signal.SIGKILL)
            popen.wait()
        _signal_group(popen.pid, signal.SIGKILL)  # children that outlived their leader

    def _close_pipes(self) -> None:
        if self._popen is not None:
            for pipe in (self._popen.stdin, self._popen.stdout):
                if pipe is not None:
                    pipe.close()

    def __repr__(self) -> str:
        return f"LocalProcess({self.name!r}, pid={self.pid}, running={self.running})"


def kill_together(processes: Sequence[LocalProcess]) -> None:
    """SIGKILL every process's group at once and wait for them together: a broker and its helpers
    end in the time of one, not of each in turn (what a session's teardown waits for)."""
    started = [process for process in processes if process._popen is not None]
    for process in started:
        assert process._popen is not None
        _signal_group(process._popen.pid, signal.SIGKILL)
    for process in started:
        process._reap(process.stop_timeout)
    _wait_for_groups_exit([process._popen.pid for process in started if process._popen is not None], GROUP_EXIT_TIMEOUT)
    for process in started:
        process._close_pipes()


def _wait_for_groups_exit(pgids: Sequence[int], timeout: float) -> None:
    """SIGKILL is delivered asynchronously: wait (bounded) until no member of the groups runs.

    A member that has ended but is not reaped yet (RabbitMQ's Erlang VM, forked by its shell
    wrapper, waits for PID 1 once the wrapper is gone) counts as gone: it holds nothing.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and groups_running(pgids):
        time.sleep(EXIT_POLL_INTERVAL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def reserve_port() -> socket.socket:
    """A port that only a server told to use it can bind, until the socket is closed.

    The socket is bound with SO_REUSEADDR and never listens: the kernel gives its port to no other
    ``bind(port 0)`` (another xdist worker's choice of a free port) and to no bind without
    SO_REUSEADDR, while the server it is meant for binds and listens next to it (Redis, NATS,
    Mosquitto, epmd, Erlang and docker-proxy all set SO_REUSEADDR). Keep it for the server's life:
    the port stays ours while the server restarts. It is bound on every address (it accepts
    nothing): one on 127.0.0.1 alone would let a socket bound to another loopback address take the
    port (a Redis cluster node dialling from 127.0.2.n), and RabbitMQ checks its port on all of them.
    """
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind(("0.0.0.0", 0))
    return reservation


def make_private_dir(label: str) -> Path:
    """A fresh 0700 directory, named after its owner so that a reaper can find it if we die."""
    record = watch()
    return Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{record.token}-{label}-", dir=record.tmp))


_removals: tuple[int, ThreadPoolExecutor] | None = None
_removals_lock = threading.Lock()


def remove_private_dir(path: Path) -> None:
    """Remove a directory of `make_private_dir` and everything in it.

    Renamed away at once (nothing is found under its name any more), its contents deleted in a
    background thread: a RabbitMQ node's files take 0.1 s to delete, longer than killing the node,
    and nobody needs to wait for that. The new name keeps the owner's token, and the thread is
    joined at exit, so nothing is left behind even when the process exits right after.
    """
    global _removals
    doomed = path.with_name(f"{path.name}-removed")
    try:
        path.rename(doomed)
    except OSError:  # gone already, or not ours to rename: remove it here
        shutil.rmtree(path, ignore_errors=True)
        return
    with _removals_lock:
        if _removals is None or _removals[0] != os.getpid():  # a forked child has no thread of its parent
            _removals = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="pytest-ipc-removal"))
        _removals[1].submit(shutil.rmtree, doomed, ignore_errors=True)


__all__ = [
    "LocalProcess",
    "ProcessStartError",
    "kill_together",
    "make_private_dir",
    "remove_private_dir",
    "reserve_port",
]
