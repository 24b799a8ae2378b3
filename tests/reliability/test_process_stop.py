"""Stopping a private process takes as long as the process takes to die, not as long as its reaper.

A broker's wrapper forks the server (RabbitMQ's shell script forks the Erlang VM). Once the group
is killed, the server is a zombie until PID 1 reaps it, which some inits (a CI sandbox's, a
container's `sleep infinity`) never do: a stop that waits for the group to be empty waits in vain.
"""

from __future__ import annotations

import time
from pathlib import Path

from pytest_ipc.backends.local import LocalProcess
from tests.reliability.machine import process_alive, process_group


def test_a_stop_does_not_wait_for_a_zombie_nobody_reaps(tmp_path: Path) -> None:
    wrapper = LocalProcess("wrapper", ["sh", "-c", "sleep 300 & wait"], workdir=tmp_path, ready=lambda: len(members()) == 2)

    def members() -> list[int]:
        return process_group(wrapper.pid) if wrapper.pid is not None else []

    wrapper.start()
    [server] = [pid for pid in members() if pid != wrapper.pid]
    started = time.monotonic()
    wrapper.stop()
    took = time.monotonic() - started

    assert not process_alive(server), "the forked server must die with its wrapper"
    assert took < 1.0, f"stop() took {took:.2f} s for a group whose members had all ended: it waited for a zombie to be reaped"
