"""What /proc says of a process: its state and process group (Linux).

The one reader of ``/proc/<pid>/stat`` for the lifecycle: a zombie counts as ended (it holds no
port, file or memory, and only its parent, or PID 1 once the parent is gone, can remove it), so
waiting for a stopped broker never waits on a reaper that is not ours.
"""

from __future__ import annotations

import os
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
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)  # raw: a scan reads hundreds
        try:
            raw = os.read(fd, 4096)
        finally:
            os.close(fd)
        fields = raw.rsplit(b")", 1)[1].split()
        return ProcessStat(fields[0].decode(), int(fields[2]))
    except (OSError, IndexError, ValueError):
        return None


def members_of_groups(groups: Collection[int]) -> Iterator[tuple[int, ProcessStat]]:
    """The processes (pid, stat) in process groups `groups`, zombies included."""
    for name in os.listdir(PROC):
        if name.isdigit() and (stat := process_stat(name)) is not None and stat.group in groups:
            yield int(name), stat


def groups_running(groups: Collection[int]) -> bool:
    """True while a member of one of process groups `groups` runs (zombies do not count)."""
    return bool(groups) and any(stat.running for _, stat in members_of_groups(groups))


def group_running(group: int) -> bool:
    """True while a member of process group `group` runs (zombies do not count)."""
    return groups_running((group,))
