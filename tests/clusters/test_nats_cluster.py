"""A three-node NATS cluster (JetStream, streams replicated three times) through the fault proxy.

Each scenario runs a correct client next to the broken ones at once, under the same fault: the
verdicts pass the correct client and name each broken client's defect.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc.cluster.assertions import assert_cluster_client, assert_publishes_accounted
from pytest_ipc.cluster.core import CLIENT_SIDE, ClusterNode
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.nats import JETSTREAM_REPORT, NatsCluster, _stream_problem
from tests.clusters.nats_clients import (
    FAILOVER_BUDGET,
    Publisher,
    Publishing,
    close_all,
    confirmed_after_fault,
    connect,
    healed_ids,
    leader_kill,
    make_stream,
    urls_from,
    wait_for_stream_leader,
)

pytestmark = pytest.mark.slow


def test_leader_kill(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """SIGKILL the node leading the stream and its consumer while three clients publish."""
    leader_kill(nats_cluster)


def test_minority_partition(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """The stream leader is cut off from the other nodes and the client: the majority elects a new
    leader, the client moves to it, and the old leader's side confirms nothing meanwhile."""
    cluster = nats_cluster.cluster
    stream, subject = make_stream(nats_cluster)
    leader = wait_for_stream_leader(cluster, stream, set())
    correct, fire = nats_cluster.journal("correct"), nats_cluster.journal("no-confirms")

    async def scenario() -> None:
        clients = [
            await connect(nats_cluster, correct, urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, fire, urls_from(cluster, leader), reconnect=True),
        ]
        publishers = [Publisher(clients[0], correct, subject, "ok"), Publisher(clients[1], fire, subject, "fire", confirm=False)]
        try:
            running = Publishing(publishers)
            await asyncio.sleep(0.5)
            nats_cluster.partition([leader], [CLIENT_SIDE])
            await confirmed_after_fault(correct)
            await asyncio.sleep(0.5)
            await running.stop()
        finally:
            await close_all(clients)

    asyncio.run(scenario())
    received = healed_ids(nats_cluster, stream, subject)

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"silently dropped(.|\n)*partition \{n\d\} \| \{client, n\d, n\d\}"):
        assert_publishes_accounted(fire, received)


def test_majority_partition(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """The client and the stream leader end up on the minority side: nothing may be confirmed there
    (it would be lost when the majority's log wins); after healing, every confirmed message is there."""
    cluster = nats_cluster.cluster
    stream, subject = make_stream(nats_cluster)
    leader = wait_for_stream_leader(cluster, stream, set())
    correct, fire = nats_cluster.journal("correct"), nats_cluster.journal("no-confirms")

    async def scenario() -> None:
        clients = [
            await connect(nats_cluster, correct, urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, fire, urls_from(cluster, leader), reconnect=True),
        ]
        publishers = [Publisher(clients[0], correct, subject, "ok"), Publisher(clients[1], fire, subject, "fire", confirm=False)]
        try:
            running = Publishing(publishers)
            await asyncio.sleep(0.5)
            nats_cluster.partition([leader, CLIENT_SIDE])
            await asyncio.to_thread(wait_for_stream_leader, cluster, stream, {leader})
            await asyncio.sleep(0.5)
            nats_cluster.heal()
            await asyncio.sleep(1.5)
            await running.stop()
        finally:
            await close_all(clients)

    asyncio.run(scenario())
    received = healed_ids(nats_cluster, stream, subject)  # healed in the scenario already

    assert correct.outcomes("refused"), "the minority side refused nothing: the partition did not bite"
    assert_cluster_client(correct, received)
    with pytest.raises(IpcAssertionError, match=r"silently dropped(.|\n)*heal"):
        assert_publishes_accounted(fire, received)


def test_pause_and_slow_replication_are_recorded(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """SIGSTOP, latency on the links and healing land on the timeline; the cluster comes back healthy."""
    node = nats_cluster.names[-1]
    nats_cluster.slow_replication(0.05)
    nats_cluster.pause(node)
    assert nats_cluster.cluster.node(node).state == "paused"
    nats_cluster.heal()
    nats_cluster.wait_until_healthy()
    kinds = [event.kind for event in nats_cluster.timeline.events]
    assert kinds == ["slow", "pause", "resume"], nats_cluster.timeline.render()


def test_bad_partition_side_is_a_usage_error(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    with pytest.raises(IpcUsageError, match=r"unknown member\(s\) \['n9'\].*valid: n1, n2, n3 and 'client'"):
        nats_cluster.partition(["n9"])


def test_healthy_waits_for_the_replica_that_was_cut_off(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """A replica cut off while the majority confirmed publishes still answers for the stream as it was
    until it catches up after the heal; healthy waits for that, so a read after it misses nothing."""
    cluster = nats_cluster.cluster
    stream, subject = make_stream(nats_cluster)
    nats_cluster.wait_until_healthy()  # the new stream's replicas formed
    leader = wait_for_stream_leader(cluster, stream, not_on=set())
    cut = next(name for name in cluster.names if name != leader)
    nats_cluster.isolate(cut)

    async def publish() -> None:
        """Five confirmed publishes, each retried (stored once, by its id) until the majority confirms it."""
        client = await nats.connect(urls_from(cluster, leader), allow_reconnect=False)
        try:
            for index in range(5):
                deadline = time.monotonic() + 10
                while True:
                    try:
                        await client.jetstream().publish(subject, b"confirmed", timeout=1, headers={"Nats-Msg-Id": f"m{index}"})
                        break
                    except (nats.js.errors.NoStreamResponseError, nats.errors.NoRespondersError, nats.errors.TimeoutError):
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.1)
        finally:
            await client.close()

    asyncio.run(publish())
    problem = _stream_problem({node.name: report(node) for node in cluster.nodes.values()})
    assert problem is not None and stream in problem and f"{cut}: " in problem, problem
    nats_cluster.heal()
    nats_cluster.wait_until_healthy()
    held = {node.name: stream_messages_on(node, stream) for node in cluster.nodes.values()}
    assert held == dict.fromkeys(cluster.names, 5), held


def report(node: ClusterNode) -> dict[str, Any]:
    """Node `node`'s own JetStream report (its monitor, direct)."""
    answer: dict[str, Any] = httpx.get(f"http://127.0.0.1:{node.ports['monitor']}/{JETSTREAM_REPORT}", timeout=2).json()
    return answer


def stream_messages_on(node: ClusterNode, stream: str) -> int:
    """How many messages node `node`'s own replica of `stream` holds."""
    details = [detail for account in report(node).get("account_details") or [] for detail in account.get("stream_detail") or []]
    return next(int(detail["state"]["messages"]) for detail in details if detail["name"] == stream)
