"""The local backend's machinery: private processes from binaries on PATH that cannot outlive us.

Every process runs in its own process group (stopping it stops its children: a broker's VM, its
helpers), works in a private 0700 directory named after its owner (where its log goes too), and
carries ``PYTEST_IPC_OWNER=<pid>-<start time>`` of the interpreter that started it. Three nets catch
leaks:

1. the fixture stops what it started (also after a failing test or Ctrl-C: pytest tears down);
2. an ``atexit`` hook kills whatever is still registered when the interpreter exits;
3. `reap_orphans()`, run once per interpreter before the first start, kills processes and removes
   directories whose owner is gone (a session that was SIGKILLed), found by that marker or by their
   working directory. No state file: nothing to corrupt or race on under xdist.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from pytest_ipc._owner import OWNER_TOKEN, owner_alive

OWNER_VARIABLE = "PYTEST_IPC_OWNER"
DIR_PREFIX = "pytest-ipc-local-"
READY_POLL_INTERVAL = 0.02
GROUP_EXIT_TIMEOUT = 2.0


class ProcessStartError(RuntimeError):
    """A local process exited or never became ready; the message carries the tail of its log."""


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
        self.env = {**os.environ, **(env or {}), OWNER_VARIABLE: OWNER_TOKEN}
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.pipes = pipes  # stdin and stdout are pipes to talk to it (stderr still goes to the log)
        self.log_path = workdir / f"{name}.log"
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def stdio(self) -> tuple[IO[bytes], IO[bytes]]:
        """(stdin, stdout) of a process started with ``pipes=True``."""
        if self._popen is None or self._popen.stdin is None or self._popen.stdout is None:
            raise RuntimeError(f"{self.name} is not running with pipes")
        return self._popen.stdin, self._popen.stdout

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        reap_orphans()
        with open(self.log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.PIPE if self.pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.pipes else log,
                stderr=log if self.pipes else subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches its children
            )
        _LIVE.add(self)
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise

    def _wait_until_ready(self) -> None:
        if self.ready is None:
            return
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self.running:
                raise ProcessStartError(f"{self.name} exited with status {self._returncode()}{self._log_tail()}")
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise ProcessStartError(f"{self.name} not ready within {self.ready_timeout} s{self._log_tail()}")
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
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(popen.pid, signal.SIGKILL)
            popen.wait()
        _signal_group(popen.pid, signal.SIGKILL)  # children that outlived their leader
        _wait_for_group_exit(popen.pid, GROUP_EXIT_TIMEOUT)
        for pipe in (popen.stdin, popen.stdout):
            if pipe is not None:
                pipe.close()
        _LIVE.discard(self)

    def __repr__(self) -> str:
        return f"LocalProcess({self.name!r}, pid={self.pid}, running={self.running})"


def _wait_for_group_exit(pgid: int, timeout: float) -> None:
    """SIGKILL is delivered asynchronously: wait (bounded) until no member of the group is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(READY_POLL_INTERVAL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def make_private_dir(label: str) -> Path:
    """A fresh 0700 directory, named after its owner so a later session can remove it if we die."""
    path = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{OWNER_TOKEN}-{label}-"))
    _DIRS.add(path)
    return path


def remove_private_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _DIRS.discard(path)


_LIVE: set[LocalProcess] = set()
_DIRS: set[Path] = set()
_reaped = threading.Event()


@atexit.register
def _release_everything() -> None:
    for process in list(_LIVE):
        process.kill()
    for path in list(_DIRS):
        remove_private_dir(path)


def marked_processes() -> dict[int, str]:
    """Running processes started by pytest-ipc sessions (any of them), with their owner's token.

    A process is ours when its environment carries the marker or its working directory is one of
    our private directories (Redis overwrites its environment block with its process title).
    Zombies have neither and are not counted.
    """
    marker = f"{OWNER_VARIABLE}=".encode()
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            workdir = os.readlink(proc / "cwd")
        except OSError:
            continue
        owner = next(
            (
                entry[len(marker) :].decode(errors="replace")
                for entry in environ.split(b"\0")
                if entry.startswith(marker)
            ),
            None,
        )
        if owner is None:
            owner = _owner_of_dir(Path(workdir))
        if owner is not None:
            found[int(proc.name)] = owner
    return found


def _owner_of_dir(path: Path) -> str | None:
    """The owner token in one of our private directories' names (or of a directory inside one)."""
    for part in path.parts:
        if part.startswith(DIR_PREFIX):
            pid, _, rest = part[len(DIR_PREFIX) :].partition("-")
            started = rest.partition("-")[0]
            if pid.isdigit() and started.isdigit():
                return f"{pid}-{started}"
    return None


def reap_orphans() -> None:
    """Kill processes and remove directories left by dead pytest-ipc sessions (once per interpreter)."""
    if _reaped.is_set():
        return
    _reaped.set()
    for pid, owner in marked_processes().items():
        if not owner_alive(owner):
            _kill(pid)
    uid = os.getuid()
    for path in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        dir_owner = _owner_of_dir(path)
        if dir_owner is not None and path.is_dir() and path.stat().st_uid == uid and not owner_alive(dir_owner):
            shutil.rmtree(path, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


__all__ = [
    "OWNER_TOKEN",
    "OWNER_VARIABLE",
    "LocalProcess",
    "ProcessStartError",
    "make_private_dir",
    "marked_processes",
    "reap_orphans",
    "remove_private_dir",
]
