"""NATS clients for the cluster tests: a correct one and the broken ones each verdict must catch, and
the leader kill scenario that runs them (on the local and container backends).

Correct: every node's address, reconnects, JetStream publishes that wait for the stream's ack
(``Nats-Msg-Id`` so a retry is stored once), a consumer that skips message ids it has processed.
Broken: fire-and-forget core publishes (no confirms), one address and no reconnect, a consumer that
repeats the effect of a redelivered message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.cluster.assertions import (
    ClientJournal,
    assert_cluster_client,
    assert_failover_within,
    assert_no_duplicate_effects,
    assert_publishes_accounted,
)
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.nats import NatsCluster

PUBLISH_INTERVAL = 0.05
PUBLISH_TIMEOUT = 0.5
FAILOVER_BUDGET = 3.0
ELECTION_TIMEOUT = 20.0
CONSUMER = "work"


async def connect(cluster: IsolatedCluster[NatsCluster], journal: ClientJournal, servers: list[str], *, reconnect: bool) -> Client:
    """A nats-py client whose connection events go to `journal`."""
    client: Client

    async def disconnected() -> None:
        journal.disconnected()

    async def reconnected() -> None:
        journal.connected(client.connected_url.port if client.connected_url else None)

    async def ignore(error: Exception) -> None:
        return None

    client = await nats.connect(
        servers=servers,
        allow_reconnect=reconnect,
        max_reconnect_attempts=-1 if reconnect else 0,
        reconnect_time_wait=0.1,
        connect_timeout=1,
        ping_interval=1,
        max_outstanding_pings=2,
        dont_randomize=True,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=ignore,
    )
    journal.connected(client.connected_url.port if client.connected_url else None)
    return client


@dataclass
class Publisher:
    """Publishes ``<label>-<n>`` every `PUBLISH_INTERVAL` until stopped; `confirm` waits for the ack."""

    client: Client
    journal: ClientJournal
    subject: str
    label: str
    confirm: bool = True
    sent: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        js = self.client.jetstream()
        while not self._stop.is_set():
            message_id = f"{self.label}-{self.sent:04d}"
            self.sent += 1
            try:
                if self.confirm:
                    await js.publish(self.subject, message_id.encode(), timeout=PUBLISH_TIMEOUT, headers={"Nats-Msg-Id": message_id})
                    self.journal.published(message_id, "confirmed")
                else:
                    await self.client.publish(self.subject, message_id.encode())
                    self.journal.published(message_id, "unconfirmed")
            except Exception as error:  # a refusal: the client knows this one was not stored
                self.journal.published(message_id, "refused", type(error).__name__)
            await asyncio.sleep(PUBLISH_INTERVAL)

    def stop(self) -> None:
        self._stop.set()


class Publishing:
    """`Publisher`s running as tasks until `stop()`."""

    def __init__(self, publishers: list[Publisher]) -> None:
        self.publishers = publishers
        self._tasks = [asyncio.create_task(publisher.run()) for publisher in publishers]

    async def stop(self) -> None:
        for publisher in self.publishers:
            publisher.stop()
        await asyncio.gather(*self._tasks)


async def stored_ids(cluster: NatsCluster, stream: str, subject: str, timeout: float = 10.0) -> list[str]:
    """Every message id the stream holds on `subject`, read by the harness after healing."""
    expected = cluster.stream_messages(stream)
    client = await nats.connect(cluster.urls(), connect_timeout=2, allow_reconnect=False)
    try:
        js = client.jetstream()
        deadline = time.monotonic() + timeout
        while True:  # right after a heal JetStream may answer 503 until its meta leader is settled again
            try:
                subscription = await js.pull_subscribe(subject, config=ConsumerConfig(ack_policy=AckPolicy.NONE))
                break
            except nats.js.errors.ServiceUnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        ids: list[str] = []
        while len(ids) < expected and time.monotonic() < deadline:
            with contextlib.suppress(nats.errors.TimeoutError, asyncio.TimeoutError):
                ids.extend(message.data.decode() for message in await subscription.fetch(500, timeout=1))
        return ids
    finally:
        with contextlib.suppress(Exception):
            await client.close()


class Handlers:
    """Two consumers' effects for the same deliveries: one skips ids it processed, one does not."""

    def __init__(self, idempotent: ClientJournal, repeating: ClientJournal) -> None:
        self.idempotent = idempotent
        self.repeating = repeating
        self._done: set[str] = set()

    def handle(self, message_id: str) -> None:
        if message_id not in self._done:
            self._done.add(message_id)
            self.idempotent.processed(message_id)
        self.repeating.processed(message_id)


async def close_all(clients: list[Client]) -> None:
    """Close every client, whatever state the fault left its connection in."""
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()


def healed_ids(handle: IsolatedCluster[NatsCluster], stream: str, subject: str) -> list[str]:
    """After the scenario: heal, wait until healthy, and read every message id the stream holds."""
    handle.heal()
    handle.wait_until_healthy()
    return asyncio.run(stored_ids(handle.cluster, stream, subject))


def make_stream(handle: IsolatedCluster[NatsCluster]) -> tuple[str, str]:
    """A stream of the test's namespace, replicated on every node: (stream, subject)."""
    stream, subject = handle.name("orders"), f"{handle.namespace}.orders"
    handle.cluster.add_stream(stream, [subject])
    return stream, subject


def url(cluster: NatsCluster, node: str) -> str:
    """Node `node`'s client URL, through its client proxy."""
    return f"nats://127.0.0.1:{cluster.client_port(node)}"


def urls_from(cluster: NatsCluster, first: str) -> list[str]:
    """Every node's client URL, `first`'s first."""
    return [url(cluster, first), *(url(cluster, node) for node in cluster.names if node != first)]


def wait_for_stream_leader(cluster: NatsCluster, stream: str, not_on: set[str]) -> str:
    deadline = time.monotonic() + ELECTION_TIMEOUT
    asking = set(cluster.names) - not_on
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            leader = cluster.stream_leader(stream, asking=asking)
            if leader is not None and leader not in not_on:
                return leader
        time.sleep(0.05)
    raise AssertionError(f"no stream leader outside {not_on} within {ELECTION_TIMEOUT} s")


def wait_for_consumer_leader(cluster: NatsCluster, stream: str, not_on: set[str]) -> str:
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


def consumer_led_by_stream_leader(cluster: NatsCluster, stream: str) -> str:
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


async def drain(subscription: object, handlers: Handlers, quiet: float = 1.5, limit: float = 10.0) -> None:
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


async def confirmed_after_fault(journal: ClientJournal, timeout: float = ELECTION_TIMEOUT) -> None:
    """Wait until the client has a publish confirmed after the last fault (the cluster serves again)."""
    fault = journal.cluster.timeline.of_kind("kill", "pause", "partition")[-1].at
    deadline = time.monotonic() + timeout
    while not any(publish.at > fault and publish.outcome == "confirmed" for publish in list(journal.publishes)):
        if time.monotonic() > deadline:
            raise journal.failure([f"no publish confirmed within {timeout} s after the fault"])
        await asyncio.sleep(0.05)


def leader_kill(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """SIGKILL the node leading the stream and its consumer while three clients publish: the correct client
    loses nothing and fails over in time; fire and forget, one address without reconnect, and a handler
    that is not idempotent are each caught."""
    cluster = nats_cluster.cluster
    stream, subject = make_stream(nats_cluster)
    leader = consumer_led_by_stream_leader(cluster, stream)
    other = next(node for node in cluster.names if node != leader)
    correct, fire, single = nats_cluster.journal("correct"), nats_cluster.journal("no-confirms"), nats_cluster.journal("no-reconnect")
    handlers = Handlers(nats_cluster.journal("idempotent"), nats_cluster.journal("repeating"))

    async def scenario() -> None:
        clients = [
            await connect(nats_cluster, correct, urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, fire, urls_from(cluster, leader), reconnect=True),
            await connect(nats_cluster, single, [url(cluster, leader)], reconnect=False),
        ]
        consumer = await connect(nats_cluster, handlers.idempotent, [url(cluster, other)], reconnect=True)
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
            await confirmed_after_fault(correct)
            await asyncio.sleep(0.5)
            await running.stop()
            await asyncio.to_thread(wait_for_consumer_leader, cluster, stream, {leader})
            await drain(subscription, handlers, quiet=2.5)
        finally:
            await close_all([*clients, consumer])

    asyncio.run(scenario())
    received = healed_ids(nats_cluster, stream, subject)

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    assert_no_duplicate_effects(handlers.idempotent)
    with pytest.raises(IpcAssertionError, match=r"silently dropped(.|\n)*does not use publisher confirms(.|\n)*kill n\d"):
        assert_publishes_accounted(fire, received)
    with pytest.raises(IpcAssertionError, match=r"reconnect to a surviving node .* never connected to a surviving node"):
        assert_failover_within(single, FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"took effect more than once(.|\n)*not idempotent"):
        assert_no_duplicate_effects(handlers.repeating)
