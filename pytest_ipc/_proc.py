"""What /proc says of a process: its state and process group (Linux).

The one reader of ``/proc/<pid>/stat`` for the lifecycle: a zombie counts as ended (it holds no
port, file or memory, and only its parent, or PID 1 once the parent is gone, can remove it), so
waiting for a stopped broker never waits on a reaper that is not ours.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import NamedTuple

PROC = Path("/proc")


class ProcessStat(NamedTuple):
    """The fields of ``/proc/<pid>/stat`` the lifecycle reads."""

    state: str
    group: int

    @property
    def running(self) -> bool:
        """False for a zombie or a dead process (``Z``, ``X``)."""
        return self.state not in ("Z", "X")


def process_stat(pid: int | str) -> ProcessStat | None:
    """The state and process group of `pid`; None when it is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        return ProcessStat(fields[0], int(fields[2]))
    except (OSError, IndexError, ValueError):
        return None


def members_of_groups(groups: Collection[int]) -> Iterator[tuple[int, ProcessStat]]:
    """The processes (pid, stat) in process groups `groups`, zombies included."""
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := process_stat(entry.name)) is not None and stat.group in groups:
            yield int(entry.name), stat


def group_running(group: int) -> bool:
    """True while a member of process group `group` runs (zombies do not count)."""
    return any(stat.running for _, stat in members_of_groups((group,)))
