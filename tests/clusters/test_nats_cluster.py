"""A three-node NATS cluster (JetStream, streams replicated three times) through the fault proxy.

Each scenario runs a correct client next to the broken ones at once, under the same fault: the
verdicts pass the correct client and name each broken client's defect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc.cluster.assertions import (
    ClientJournal,
    assert_cluster_client,
    assert_failover_within,
    assert_no_duplicate_effects,
    assert_publishes_accounted,
)
from pytest_ipc.cluster.core import CLIENT_SIDE
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.nats import NatsCluster
from tests.clusters.nats_clients import Handlers, Publisher, Publishing, connect, stored_ids

pytestmark = pytest.mark.slow

FAILOVER_BUDGET = 3.0
ELECTION_TIMEOUT = 20.0
CONSUMER = "work"


def _stream(handle: IsolatedCluster[NatsCluster]) -> tuple[str, str]:
    stream, subject = handle.name("orders"), f"{handle.namespace}.orders"
    handle.cluster.add_stream(stream, [subject])
    return stream, subject


def _url(cluster: NatsCluster, node: str) -> str:
    return f"nats://127.0.0.1:{cluster.client_port(node)}"


def _urls_from(cluster: NatsCluster, first: str) -> list[str]:
    return [_url(cluster, first), *(_url(cluster, node) for node in cluster.names if node != first)]


def _wait_for_stream_leader(cluster: NatsCluster, stream: str, not_on: set[str]) -> str:
    deadline = time.monotonic() + ELECTION_TIMEOUT
    asking = set(cluster.names) - not_on
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            leader = cluster.stream_leader(stream, asking=asking)
            if leader is not None and leader not in not_on:
                return leader
        time.sleep(0.05)
    raise AssertionError(f"no stream leader outside {not_on} within {ELECTION_TIMEOUT} s")


def _wait_for_consumer_leader(cluster: NatsCluster, stream: str, not_on: set[str]) -> str:
    """The consumer's replicas elect a leader of their own, apart from the stream's: wait for it too."""
    deadline = time.monotonic() + ELECTION_TIMEOUT
    asking = set(cluster.names) - not_on
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            info = cluster.js_request(f"$JS.API.CONSUMER.INFO.{stream}.{CONSUMER}", on=asking)
            leader = (info.get("cluster") or {}).get("leader")
            if leader and leader not in not_on:
                return str(leader)
        time.sleep(0.05)
    raise AssertionError(f"no consumer leader outside {not_on} within {ELECTION_TIMEOUT} s")


def _consumer_led_by_stream_leader(cluster: NatsCluster, stream: str) -> str:
    """A durable R3 consumer whose leader is the stream's leader: killing that one node takes both."""
    config = {"durable_name": CONSUMER, "ack_policy": "explicit", "ack_wait": 1_000_000_000, "num_replicas": 3}
    cluster.js_request(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{CONSUMER}", {"stream_name": stream, "config": config})
    for _ in range(20):
        stream_leader = cluster.stream_leader(stream)
        info = cluster.js_request(f"$JS.API.CONSUMER.INFO.{stream}.{CONSUMER}")
        consumer_leader = (info.get("cluster") or {}).get("leader")
        if stream_leader and consumer_leader == stream_leader:
            return stream_leader
        if consumer_leader:
            cluster.js_request(f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{CONSUMER}")
        time.sleep(0.2)
    raise AssertionError("the consumer's leader never moved to the stream's leader")


async def _drain(subscription: object, handlers: Handlers, quiet: float = 1.5, limit: float = 10.0) -> None:
    """Fetch and ack until nothing (not even a redelivery after ack_wait) came for `quiet` seconds."""
    began = last = time.monotonic()
    while time.monotonic() - last < quiet and time.monotonic() - began < limit:
        try:
            batch = await asyncio.wait_for(subscription.fetch(100, timeout=0.5), 1.0)  # type: ignore[attr-defined]
        except Exception:
            continue
        for message in batch:
            handlers.handle(message.data.decode())
            await message.ack()
        last = time.monotonic()
    handlers.idempotent.note(f"drained in {time.monotonic() - began:.1f} s")


async def _confirmed_after_fault(journal: ClientJournal, timeout: float = ELECTION_TIMEOUT) -> None:
    """Wait until the client has a publish confirmed after the last fault (the cluster serves again)."""
    fault = journal.cluster.timeline.of_kind("kill", "pause", "partition")[-1].at
    deadline = time.monotonic() + timeout
    while not any(publish.at > fault and publish.outcome == "confirmed" for publish in list(journal.publishes)):
        if time.monotonic() > deadline:
            raise journal.failure([f"no publish confirmed within {timeout} s after the fault"])
        await asyncio.sleep(0.05)


def test_leader_kill(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """SIGKILL the node leading the stream and its consumer while three clients publish."""
    cluster = nats_cluster.cluster
    stream, subject = _stream(nats_cluster)
    leader = _consumer_led_by_stream_leader(cluster, stream)
    other = next(node for node in cluster.names if node != leader)
    correct, fire, single = nats_cluster.journal("correct"), nats_cluster.journal("no-confirms"), nats_cluster.journal("no-reconnect")
    handlers = Handlers(nats_cluster.journal("idempotent"), nats_cluster.journal("repeating"))

    async def scenario() -> None:
        clients = [
            await connect(nats_cluster, correct, _urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, fire, _urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, single, [_url(cluster, leader)], reconnect=False),
        ]
        consumer = await connect(nats_cluster, handlers.idempotent, [_url(cluster, other)], reconnect=True)
        publishers = [
            Publisher(clients[0], correct, subject, "ok"),
            Publisher(clients[1], fire, subject, "fire", confirm=False),
            Publisher(clients[2], single, subject, "single"),
        ]
        try:
            running = Publishing(publishers)
            subscription = await consumer.jetstream().pull_subscribe_bind(CONSUMER, stream)
            await asyncio.sleep(0.5)
            in_flight = await subscription.fetch(5, timeout=2)
            for message in in_flight:  # processed, not yet acknowledged when the leader dies
                handlers.handle(message.data.decode())
            nats_cluster.kill(leader)
            for message in in_flight:
                with contextlib.suppress(Exception):
                    await message.ack()  # the leader is gone: these acknowledgements are lost
            await _confirmed_after_fault(correct)
            await asyncio.sleep(0.5)
            await running.stop()
            await asyncio.to_thread(_wait_for_consumer_leader, cluster, stream, {leader})
            await _drain(subscription, handlers, quiet=2.5)
        finally:
            for client in [*clients, consumer]:
                with contextlib.suppress(Exception):
                    await client.close()

    asyncio.run(scenario())
    nats_cluster.heal()
    nats_cluster.wait_until_healthy()
    received = asyncio.run(stored_ids(cluster, stream, subject))

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    assert_no_duplicate_effects(handlers.idempotent)
    with pytest.raises(IpcAssertionError, match=r"silently dropped(.|\n)*does not use publisher confirms(.|\n)*kill n\d"):
        assert_publishes_accounted(fire, received)
    with pytest.raises(IpcAssertionError, match=r"reconnect to a surviving node .* never connected to a surviving node"):
        assert_failover_within(single, FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"took effect more than once(.|\n)*not idempotent"):
        assert_no_duplicate_effects(handlers.repeating)


def test_minority_partition(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """The stream leader is cut off from the other nodes and the client: the majority elects a new
    leader, the client moves to it, and the old leader's side confirms nothing meanwhile."""
    cluster = nats_cluster.cluster
    stream, subject = _stream(nats_cluster)
    leader = _wait_for_stream_leader(cluster, stream, set())
    correct, fire = nats_cluster.journal("correct"), nats_cluster.journal("no-confirms")

    async def scenario() -> None:
        clients = [
            await connect(nats_cluster, correct, _urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, fire, _urls_from(cluster, leader), reconnect=True),
        ]
        publishers = [Publisher(clients[0], correct, subject, "ok"), Publisher(clients[1], fire, subject, "fire", confirm=False)]
        try:
            running = Publishing(publishers)
            await asyncio.sleep(0.5)
            nats_cluster.partition([leader], [CLIENT_SIDE])
            await _confirmed_after_fault(correct)
            await asyncio.sleep(0.5)
            await running.stop()
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.close()

    asyncio.run(scenario())
    nats_cluster.heal()
    nats_cluster.wait_until_healthy()
    received = asyncio.run(stored_ids(cluster, stream, subject))

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"silently dropped(.|\n)*partition \{n\d\} \| \{client, n\d, n\d\}"):
        assert_publishes_accounted(fire, received)


def test_majority_partition(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """The client and the stream leader end up on the minority side: nothing may be confirmed there
    (it would be lost when the majority's log wins); after healing, every confirmed message is there."""
    cluster = nats_cluster.cluster
    stream, subject = _stream(nats_cluster)
    leader = _wait_for_stream_leader(cluster, stream, set())
    correct, fire = nats_cluster.journal("correct"), nats_cluster.journal("no-confirms")

    async def scenario() -> None:
        clients = [
            await connect(nats_cluster, correct, _urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, fire, _urls_from(cluster, leader), reconnect=True),
        ]
        publishers = [Publisher(clients[0], correct, subject, "ok"), Publisher(clients[1], fire, subject, "fire", confirm=False)]
        try:
            running = Publishing(publishers)
            await asyncio.sleep(0.5)
            nats_cluster.partition([leader, CLIENT_SIDE])
            await asyncio.to_thread(_wait_for_stream_leader, cluster, stream, {leader})
            await asyncio.sleep(0.5)
            nats_cluster.heal()
            await asyncio.sleep(1.5)
            await running.stop()
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.close()

    asyncio.run(scenario())
    nats_cluster.wait_until_healthy()
    received = asyncio.run(stored_ids(cluster, stream, subject))

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
