"""Nothing outlives its session: failed runs clean up, and a SIGKILLed session's leftovers are swept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from pytest_ipc.backends.container import LABEL_HOST, LABEL_PID, LABEL_SESSION, sweep_orphans

from .container_specs import container_exists

pytestmark = pytest.mark.docker


@pytest.fixture
def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def labelled(docker_client: Any) -> Iterator[Callable[..., Any]]:
    """Makes containers and networks with given owner labels; removes whatever the test left."""
    removals: list[Callable[[], None]] = []

    def make(kind: str, pid: int, host: str = os.uname().nodename) -> Any:
        labels = {LABEL_SESSION: str(uuid.uuid4()), LABEL_PID: str(pid), LABEL_HOST: host}
        if kind == "network":
            network = docker_client.networks.create(f"pytest-ipc-test-{uuid.uuid4().hex[:8]}", labels=labels)
            removals.append(network.remove)
            return network
        container = docker_client.containers.create("local/redis:debian", labels=labels)
        removals.append(lambda: container.remove(force=True))
        return container

    yield make
    for remove in removals:
        with contextlib.suppress(docker.errors.NotFound):  # most are gone: that is what tests check
            remove()


def test_sweep_removes_only_what_dead_processes_of_this_host_left(
    labelled: Callable[..., Any],
    dead_pid: int,
    docker_client: Any,
) -> None:
    orphan = labelled("container", dead_pid)
    orphan_network = labelled("network", dead_pid)
    ours = labelled("container", os.getpid())
    elsewhere = labelled("container", dead_pid, host="another-machine")

    sweep_orphans()  # (under xdist another worker's sweep may get there first: check the state)

    assert not container_exists(docker_client, orphan.id)
    assert container_exists(docker_client, ours.id)
    assert container_exists(docker_client, elsewhere.id)
    assert not docker_client.networks.list(names=[orphan_network.name])


def test_a_sigkilled_session_leaves_a_container_the_next_sweep_removes(docker_client: Any) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pytest_ipc.backends.container import ContainerBackend, ContainerSpec
        endpoint = ContainerBackend(ContainerSpec("local/redis:debian", {"redis": 6379})).start()
        print(endpoint.container_id, flush=True)
        sys.stdin.read()  # until killed
        """
    )
    session = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert session.stdout is not None
        container_id = session.stdout.readline().strip()
        assert docker_client.containers.get(container_id).status == "running"
    finally:
        session.send_signal(signal.SIGKILL)
        session.wait()
        assert session.stdin is not None and session.stdout is not None
        session.stdin.close()
        session.stdout.close()

    # SIGKILL ran no teardown; only a sweep (ours, or under xdist another worker's) removes it.
    sweep_orphans()
    assert not container_exists(docker_client, container_id)


def test_a_failing_pytest_run_leaves_no_container_or_network(pytester: pytest.Pytester, docker_client: Any) -> None:
    record = pytester.path / "started.txt"
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_ipc.backends.container import ContainerBackend, ContainerSpec, private_network

        @pytest.fixture
        def network():
            with private_network() as name:
                yield name

        @pytest.fixture
        def cache(network):
            backend = ContainerBackend(ContainerSpec("local/redis:debian", {{"redis": 6379}}, network=network))
            endpoint = backend.start()
            yield endpoint
            backend.stop()

        def test_fails(cache, network):
            with open({str(record)!r}, "w") as handle:
                handle.write(cache.container_id + " " + network)
            assert False, "the test fails on purpose"

        def test_errors_in_the_middle(network):
            with open({str(record)!r} + ".2", "w") as handle:
                handle.write(network)
            raise RuntimeError("boom")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark")
    result.assert_outcomes(failed=2)
    container_id, network = record.read_text().split()
    second_network = Path(f"{record}.2").read_text()
    assert not container_exists(docker_client, container_id)
    assert not docker_client.networks.list(names=[network])
    assert not docker_client.networks.list(names=[second_network])
