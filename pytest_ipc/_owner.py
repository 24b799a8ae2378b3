"""Who owns a leftover: a process's pid plus its kernel start time, which tells a reused pid apart.

Things a session leaves on the machine (private broker processes and their dirs, pact fragments) are
named or tagged with `OWNER_TOKEN`; a later session removes those whose owner is gone, so even a
SIGKILLed session leaks nothing for long. No state file: nothing to corrupt or race on under xdist.
"""

from __future__ import annotations

import os
from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/pid/stat), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int) -> bool:
    """True while some process has `pid` (where only a pid was recorded, e.g. in a Docker label)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


OWNER_TOKEN = f"{os.getpid()}-{process_start_time(os.getpid())}"


def owner_alive(token: str) -> bool:
    """True while the process that made `token` ("<pid>-<start time>") still runs."""
    pid, _, started = token.partition("-")
    return pid.isdigit() and process_start_time(int(pid)) == started
