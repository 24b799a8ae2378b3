"""Clusters on the container backend: every node a container of the broker's image in the host's
network namespace, every inter-node link still through the fault proxy.

For each kind, on one cluster (three RabbitMQ nodes take half a minute to start, and under xdist
each worker that got a test of it would start its own): it starts healthy, its nodes run in
containers and listen on loopback only, and no node dials a peer but through a proxy; a correct
client survives a leader kill and a broken one is caught (the scenarios of the local backend's
tests); a pause by the cgroup freezer leaves the node silent until it is resumed; a partition bites
and heals; and nothing is left after stop. (A session killed with SIGKILL: `test_cluster_leaks`.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_ipc._owner import OWNER_LABEL, owner_token
from pytest_ipc.brokers.nats import nats_healthy
from pytest_ipc.cluster.core import Cluster
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.nats import NatsCluster
from pytest_ipc.cluster.rabbitmq import RabbitMQCluster
from pytest_ipc.cluster.redis import RedisCluster
from pytest_ipc.cluster.runner_container import ContainerNodeProcess, ContainerNodes
from tests.brokers.test_leaks import LOOPBACK_HEX, tcp_sockets
from tests.clusters.nats_clients import leader_kill
from tests.clusters.rabbitmq_clients import queue_leader_kill
from tests.clusters.redis_clients import primary_kill
from tests.containers.container_specs import container_exists
from tests.images import CLUSTER_BROKERS

pytestmark = [pytest.mark.slow, pytest.mark.docker]

C = TypeVar("C", bound=Cluster)
#: Generous: two cores, shared with other work.
TIMEOUT = 60.0


@contextmanager
def container_cluster(kind: type[C]) -> Iterator[C]:
    """A cluster of `kind` on the container backend, stopped after the block."""
    cluster = kind(runner=ContainerNodes(CLUSTER_BROKERS[kind.kind]))
    if (reason := cluster.unavailable_reason()) is not None:
        pytest.skip(f"no {kind.kind} cluster in containers: {reason}")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def containers_of(cluster: Cluster) -> list[ContainerNodeProcess]:
    processes = [process for node in cluster.nodes.values() for process in node.processes]
    assert all(isinstance(process, ContainerNodeProcess) for process in processes), processes
    return processes  # type: ignore[return-value]


def assert_runs_in_containers(cluster: Cluster, client: Any) -> None:
    """Every program of every node is a running container of the kind's image on the host's network,
    labelled with its owner, its node directory mounted at the same path; its listeners are on
    loopback, and it reaches its peers through the proxies only (never a peer's own port)."""
    pids = []
    for node in cluster.nodes.values():
        for process in node.processes:
            assert isinstance(process, ContainerNodeProcess)
            info = client.api.inspect_container(process.container_id)
            assert info["State"]["Status"] == "running", info["State"]
            assert info["HostConfig"]["NetworkMode"] == "host"
            assert info["Config"]["Image"] == cluster.runner.image
            assert info["Config"]["Labels"][OWNER_LABEL] == owner_token()
            assert {(mount["Source"], mount["Destination"]) for mount in info["Mounts"]} == {(str(node.base), str(node.base))}
            top = client.api.top(process.container_id)
            pids += [int(row[top["Titles"].index("PID")]) for row in top["Processes"]]
    sockets = tcp_sockets(pids)
    listening = {socket.local_address for socket in sockets if socket.listening}
    assert listening and listening <= LOOPBACK_HEX, listening
    peer_ports = {node.ports[port] for node in cluster.nodes.values() for port in cluster.peer_ports}
    proxy_ports = {link.listen_port for link in cluster.links.values() if link.source != "client"}
    dialled = {socket.remote_port for socket in sockets if socket.established}
    assert not dialled & peer_ports, f"a node dialled a peer's own port, not its proxy: {dialled & peer_ports}"
    assert dialled & proxy_ports, f"no node is connected to a peer through a proxy: {dialled}"


def assert_pause_is_seen(handle: IsolatedCluster[C], client: Any, answers: Callable[[C, str], bool]) -> None:
    """The freezer stops the leader's every process: its container says paused and the node answers
    nothing, until it is resumed; then the cluster is healthy again."""
    handle.reset()
    cluster = handle.cluster
    victim = cluster.leader() or cluster.names[0]
    assert answers(cluster, victim)
    handle.pause(victim)
    try:
        for process in cluster.node(victim).processes:
            assert isinstance(process, ContainerNodeProcess)
            assert client.api.inspect_container(process.container_id)["State"]["Paused"] is True
        assert not answers(cluster, victim), f"{victim} answered while paused"
    finally:
        handle.resume(victim)
    deadline = time.monotonic() + TIMEOUT
    while not answers(cluster, victim):
        assert time.monotonic() < deadline, f"{victim} did not answer within {TIMEOUT} s of its resume"
        time.sleep(0.1)
    cluster.wait_until_healthy(TIMEOUT)
    assert f"pause {victim} (cgroup freezer)" in handle.timeline.render()


def assert_partition_is_seen(handle: IsolatedCluster[C]) -> None:
    """Cut off the leader: the cluster says what is wrong within seconds, and is healthy again after healing."""
    handle.reset()
    cluster = handle.cluster
    victim = cluster.leader() or cluster.names[0]
    handle.isolate(victim)
    deadline = time.monotonic() + TIMEOUT
    while cluster._health_problem() is None:  # a probe that raises is a problem too
        assert time.monotonic() < deadline, f"the cluster saw nothing wrong within {TIMEOUT} s of cutting off {victim}"
        time.sleep(0.1)
    handle.settle(TIMEOUT * 2)


def assert_nothing_left(client: Any, ids: list[str], base: Path) -> None:
    """No container of the cluster is left, nor its directory (removed in the background: wait for it)."""
    assert [cid for cid in ids if container_exists(client, cid)] == []
    deadline = time.monotonic() + 10
    while base.exists() or base.with_name(f"{base.name}-removed").exists():
        assert time.monotonic() < deadline, f"{base} is still there"
        time.sleep(0.05)


def run_on_containers(
    kind: type[C], client: Any, leader_kill_scenario: Callable[[IsolatedCluster[C]], None], answers: Callable[[C, str], bool]
) -> None:
    """Each check in turn on one cluster of `kind` in containers; nothing is left after its stop."""
    with container_cluster(kind) as cluster:
        assert cluster.runner.name == "container"
        assert_runs_in_containers(cluster, client)
        handle = IsolatedCluster(cluster).open()
        leader_kill_scenario(handle)
        assert_pause_is_seen(handle, client, answers)
        assert_partition_is_seen(handle)
        handle.close()
        ids = [process.container_id for process in containers_of(cluster) if process.container_id is not None]
        base = cluster._base
        assert base is not None and len(ids) == len(cluster.nodes) * len(cluster.node(cluster.names[0]).processes)
        handle.pause(cluster.names[-1])  # the worst case for a stop: a frozen container, and a cut link
        handle.isolate(cluster.names[0])
    assert_nothing_left(client, ids, base)


def test_nats_cluster_in_containers(docker_client: Any) -> None:
    run_on_containers(NatsCluster, docker_client, leader_kill, lambda cluster, name: nats_healthy(cluster.node(name).ports["monitor"]))


def _redis_answers(cluster: RedisCluster, name: str) -> bool:
    try:
        return bool(cluster.direct(name).ping())
    except Exception:  # a timeout: no answer
        return False


def test_redis_cluster_in_containers(docker_client: Any) -> None:
    run_on_containers(RedisCluster, docker_client, primary_kill, _redis_answers)


def _rabbitmq_answers(cluster: RabbitMQCluster, name: str) -> bool:
    try:
        return bool(cluster.api(name, "overview"))
    except Exception:  # a timeout: no answer
        return False


def test_rabbitmq_cluster_in_containers(docker_client: Any) -> None:
    run_on_containers(RabbitMQCluster, docker_client, queue_leader_kill, _rabbitmq_answers)
