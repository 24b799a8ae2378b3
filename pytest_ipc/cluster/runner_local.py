"""The ``local`` way of running a cluster's nodes: private processes from the binaries on PATH.

Each program is a `LocalProcess` (its own process group, its log in the node's directory, reaped by
the owner's watchdog if the session dies); a pause is SIGSTOP to the group, a resume SIGCONT.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Sequence

from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.cluster.runner import Program


class LocalNodeProcess:
    """A program of a node as a local process group."""

    def __init__(self, program: Program) -> None:
        command, *args = program.argv
        self._process = LocalProcess(
            program.name,
            [shutil.which(command) or command, *args],
            workdir=program.workdir,
            env=program.env,
            ready=program.ready,
            ready_timeout=program.ready_timeout,
        )
        self._paused = False

    def start(self) -> None:
        self._process.start()

    def kill(self) -> None:
        self.resume()  # SIGKILL ends a stopped group too; continued first, it dies as a running one would
        self._process.kill()

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._signal(signal.SIGCONT)
            self._paused = False

    def stop(self) -> None:
        self.kill()

    @property
    def output(self) -> str:
        return str(self._process.log_path)

    def _signal(self, signum: signal.Signals) -> None:
        if (pid := self._process.pid) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signum)

    def __repr__(self) -> str:
        return f"LocalNodeProcess({self._process!r}, paused={self._paused})"


class LocalNodes:
    """Nodes as local processes; unavailable when one of the kind's `binaries` is not on PATH."""

    name = "local"
    image = None
    pause_method = "SIGSTOP"

    def __init__(self, binaries: Sequence[str], install_hint: str) -> None:
        self.binaries = tuple(binaries)
        self.install_hint = install_hint

    def unavailable_reason(self) -> str | None:
        missing = [binary for binary in self.binaries if shutil.which(binary) is None]
        return f"{', '.join(missing)} not found ({self.install_hint})" if missing else None

    def process(self, program: Program) -> LocalNodeProcess:
        return LocalNodeProcess(program)


__all__ = ["LocalNodeProcess", "LocalNodes"]
