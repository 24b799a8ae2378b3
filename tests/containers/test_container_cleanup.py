"""Nothing outlives its owner: failed runs and signalled sessions clean up, a SIGKILLed owner's watchdog
removes its containers and networks, and a session removes only what is provably orphaned, even
next to live sessions in other PID namespaces with the same hostname."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from pytest_ipc import _lifecycle
from pytest_ipc._owner import OWNER_LABEL, owner_token
from tests.containers.container_specs import container_exists
from tests.reliability.sessions import (
    REAP_TIMEOUT,
    RECORDING_CONFTEST,
    ROOT,
    Session,
    holding_session,
    owners_holding,
    wait_until_clean,
)
from tests.reliability.test_ownership import needs_pid_namespaces

pytestmark = [pytest.mark.docker, pytest.mark.slow]  # CI runs the slow tests (see the root conftest)

OWNER_SCRIPT = """
import json, sys
from pytest_ipc import _lifecycle, _owner
from pytest_ipc.backends.container import ContainerBackend, ContainerSpec, private_network

network = private_network()
name = network.__enter__()
endpoint = ContainerBackend(ContainerSpec("local/redis:debian", {"redis": 6379}, network=name)).start()
print(json.dumps({"token": _owner.owner_token(), "record": str(_owner.owner().path),
                  "watchdog": _lifecycle.watchdog_pid(), "container": endpoint.container_id}), flush=True)
sys.stdin.read()  # until killed
"""


@pytest.fixture
def container_owner() -> Iterator[Callable[[], tuple[subprocess.Popen[str], dict[str, Any]]]]:
    """Starts processes that each own a container on a private network; ends those left running."""
    started: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], dict[str, Any]]:
        process = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        started.append(process)
        assert process.stdout is not None
        return process, json.loads(process.stdout.readline())

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_a_sigkilled_owners_watchdog_removes_its_container_and_network(
    container_owner: Callable[[], tuple[subprocess.Popen[str], dict[str, Any]]], docker_client: Any
) -> None:
    process, owner = container_owner()
    assert container_exists(docker_client, owner["container"])
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert wait_until_clean([owner], docker_client=docker_client) == {}


def test_when_the_watchdog_dies_too_the_next_sweep_removes_them(
    container_owner: Callable[[], tuple[subprocess.Popen[str], dict[str, Any]]], docker_client: Any
) -> None:
    process, owner = container_owner()
    os.kill(owner["watchdog"], signal.SIGKILL)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert container_exists(docker_client, owner["container"]), "no one reaped it yet"
    swept = _lifecycle.sweep()
    # under xdist a session running beside this test may sweep first: then it is reaping them
    timeout = 0 if owner["token"] in swept else REAP_TIMEOUT
    assert wait_until_clean([owner], timeout=timeout, docker_client=docker_client) == {}


@pytest.fixture
def labelled(docker_client: Any) -> Iterator[Callable[[str], Any]]:
    """Makes containers labelled with a given owner token; removes whatever the test left."""
    made: list[Any] = []

    def make(token: str) -> Any:
        made.append(docker_client.containers.create("local/redis:debian", labels={OWNER_LABEL: token}))
        return made[-1]

    yield make
    for container in made:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def test_a_sweep_leaves_live_owners_and_owners_it_cannot_judge_alone(
    labelled: Callable[[str], Any], docker_client: Any
) -> None:
    ours = labelled(owner_token())  # a live owner: we hold our record's lock
    place = owner_token().partition("-")[2]
    elsewhere = labelled(f"{secrets.token_hex(8)}-ffff.1")  # another records directory (another /dev/shm)
    unrecorded = labelled(f"{secrets.token_hex(8)}-{place}")  # no record here: never an orphan of ours
    _lifecycle.sweep()
    for container in (ours, elsewhere, unrecorded):
        assert container_exists(docker_client, container.id)


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


CONTAINER_BROKER = ("--ipc-redis-backend=container", "--ipc-redis-image=local/redis:debian")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=lambda signum: signum.name)
def test_a_signalled_session_leaves_no_container(
    pytester: pytest.Pytester, docker_client: Any, signum: signal.Signals
) -> None:
    session = holding_session(pytester, ["redis_server"], *CONTAINER_BROKER, "-k", "holds_brokers and 0")
    [owner] = owners_holding(session)
    assert wait_until_clean([owner], timeout=0, docker_client=docker_client, kinds=["containers"]) != {}
    session.process.send_signal(signum)
    session.finish()
    assert wait_until_clean([owner], docker_client=docker_client) == {}


NAMESPACED_TESTS = """
import os
from conftest import block_until_released, record
from pytest_ipc import _lifecycle, _owner
from pytest_ipc.backends.container import ContainerBackend, ContainerSpec

def test_holds_a_container():
    backend = ContainerBackend(ContainerSpec("local/redis:debian", {"redis": 6379}))
    endpoint = backend.start()
    try:
        record("owner", token=_owner.owner_token(), record=str(_owner.owner().path), watchdog=_lifecycle.watchdog_pid(),
               container=endpoint.container_id, namespace_pid=os.getpid(), hostname=os.uname().nodename)
        block_until_released()
    finally:
        backend.stop()

def test_nothing():
    pass
"""
OWN_PID_NAMESPACE = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")


@needs_pid_namespaces
def test_sessions_in_separate_pid_namespaces_never_remove_each_others_containers(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    """Two sessions, each pid 1 of its own PID namespace, same hostname, same engine: neither (nor a
    third) removes the other's container. Once a namespace dies with its session and its watchdog,
    the next session removes that container, and only that one."""
    first, second = (
        Session(pytester, RECORDING_CONFTEST, NAMESPACED_TESTS, "-k", "holds", prefix=OWN_PID_NAMESPACE, name=name)
        for name in ("first", "second")
    )
    first.wait_for("running")
    second.wait_for("running")
    [a], [b] = first.records_of("owner"), second.records_of("owner")
    assert a["namespace_pid"] == b["namespace_pid"] == 1 and a["hostname"] == b["hostname"]

    sweeper = Session(
        pytester, RECORDING_CONFTEST, NAMESPACED_TESTS, "-k", "nothing", prefix=OWN_PID_NAMESPACE, name="third"
    )
    sweeper.finish().assert_outcomes(passed=1, deselected=1)
    assert container_exists(docker_client, a["container"]) and container_exists(docker_client, b["container"])

    os.killpg(first.process.pid, signal.SIGKILL)  # the namespace, its session and its watchdog die at once
    first.finish()
    assert container_exists(docker_client, a["container"]), "nobody left to remove it"

    sweeper = Session(
        pytester, RECORDING_CONFTEST, NAMESPACED_TESTS, "-k", "nothing", prefix=OWN_PID_NAMESPACE, name="fourth"
    )
    sweeper.finish().assert_outcomes(passed=1, deselected=1)
    assert not container_exists(docker_client, a["container"])
    assert container_exists(docker_client, b["container"])

    second.release()
    second.finish().assert_outcomes(passed=1, deselected=1)
    for owner in (a, b):
        owner["watchdog"] = None  # a pid of its namespace, meaningless here
    assert wait_until_clean([a, b], docker_client=docker_client) == {}
