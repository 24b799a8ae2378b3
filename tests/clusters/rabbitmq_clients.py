"""RabbitMQ clients and scenarios for the cluster tests: a correct publisher and the broken ones each
verdict must catch, under a queue leader kill and partitions (on the local and container backends).

Correct: publisher confirms, every node's address, reconnect. Broken: one address and no reconnect,
and fire and forget (no confirms); the leader kill also has a consumer whose acknowledgements die
with the node, processed by an idempotent handler and by one that is not.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pika
import pika.exceptions
import pytest

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.cluster.assertions import (
    ClientJournal,
    assert_cluster_client,
    assert_failover_within,
    assert_no_duplicate_effects,
    assert_publishes_accounted,
)
from pytest_ipc.cluster.core import CLIENT_SIDE
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.rabbitmq import RabbitMQCluster
from tests.clusters.nats_clients import Handlers

FAILOVER_BUDGET = 5.0
TIMEOUT = 30.0


class Publisher(threading.Thread):
    """Publishes to a quorum queue, with publisher confirms unless `confirm` is false (fire and
    forget: the publish is "unconfirmed" once written); reconnects to the next node on a connection
    error if `reconnect`."""

    def __init__(self, journal: ClientJournal, urls: list[str], queue: str, label: str, *, reconnect: bool, confirm: bool = True) -> None:
        super().__init__(name=f"publisher-{label}", daemon=True)
        self.journal, self.queue, self.label, self.reconnect, self.confirm = journal, queue, label, reconnect, confirm
        self.parameters = [pika.URLParameters(f"{url}?connection_attempts=1&socket_timeout=1&heartbeat=2") for url in urls]
        self._halt = threading.Event()
        self._channel: pika.adapters.blocking_connection.BlockingChannel | None = None
        self._connection: pika.BlockingConnection | None = None

    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(self.parameters)
        self._channel = self._connection.channel()
        if self.confirm:
            self._channel.confirm_delivery()
        self._channel.queue_declare(self.queue, durable=True, arguments={"x-queue-type": "quorum"})
        self.journal.connected(self._connection._impl.params.port)

    def run(self) -> None:
        sent = 0
        connect_allowed = True
        while not self._halt.is_set():
            message_id = f"{self.label}-{sent:04d}"
            sent += 1
            try:
                if self._channel is None:
                    if not connect_allowed:
                        raise pika.exceptions.AMQPConnectionError("the client does not reconnect")
                    connect_allowed = self.reconnect
                    self._connect()
                assert self._channel is not None
                properties = pika.BasicProperties(delivery_mode=2)
                self._channel.basic_publish("", self.queue, message_id.encode(), properties, mandatory=self.confirm)
                self.journal.published(message_id, "confirmed" if self.confirm else "unconfirmed")
            except pika.exceptions.AMQPError as error:
                self.journal.published(message_id, "refused", type(error).__name__)
                if self._channel is not None:  # a nack or a lost connection: start over on a fresh connection
                    self.journal.disconnected(type(error).__name__)
                    self._channel = None
                    if self._connection is not None and self._connection.is_open:
                        with contextlib.suppress(pika.exceptions.AMQPError):
                            self._connection.close()
            time.sleep(0.05)
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def received_from(cluster: RabbitMQCluster, node: str, queue: str, timeout: float = 15.0) -> list[str]:
    """Every message id `queue` holds, read on `node` directly; right after a heal the node may still
    refuse connections for a moment (pause_minority lets a paused node rejoin), so the connect is retried."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(cluster.direct_url(node)))
            break
        except pika.exceptions.AMQPConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        channel = connection.channel()
        ids = []
        while True:
            method, _properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            ids.append(body.decode())
    finally:
        connection.close()


def wait_until(condition: object, what: str, journal: ClientJournal | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.05)
    if journal is not None:
        raise journal.failure([f"{what} within {TIMEOUT} s"])
    raise AssertionError(f"{what} within {TIMEOUT} s")


def start_publishers(handle: IsolatedCluster[RabbitMQCluster], queue: str) -> tuple[str, list[str], list[Publisher]]:
    """Declare the quorum queue, find its leader; a correct publisher (every node, leader first), one
    with the leader's address only and no reconnect, and one without publisher confirms (nor reconnect)."""
    cluster = handle.cluster
    handle.reset()  # each scenario starts healthy, with a timeline and journals of its own
    correct, fixed, fire = handle.journal("correct"), handle.journal("no-reconnect"), handle.journal("no-confirms")
    connection = pika.BlockingConnection(pika.URLParameters(cluster.urls()[0]))
    connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    connection.close()
    wait_until(lambda: cluster.queue_leader(queue) is not None, "the quorum queue has no leader")
    leader = cluster.queue_leader(queue)
    assert leader is not None
    order = [leader, *(name for name in cluster.names if name != leader)]
    urls = dict(zip(cluster.names, cluster.urls(), strict=True))
    publishers = [
        Publisher(correct, [urls[name] for name in order], queue, "ok", reconnect=True),
        Publisher(fixed, [urls[leader]], queue, "fixed", reconnect=False),
        # no reconnect either: a partition frees the ports of the proxies it disables, and every
        # reconnect attempt takes an ephemeral port that may be one of them (then the heal cannot listen)
        Publisher(fire, [urls[leader]], queue, "fire", reconnect=False, confirm=False),
    ]
    for publisher in publishers:
        publisher.start()
    return leader, order, publishers


def side_confirms(cluster: RabbitMQCluster, node: str, queue: str) -> bool:
    """A publish on `node` (direct, past the proxies) is confirmed: its side has elected a queue leader
    of its own. The publish waits for the election, so the probe runs in a thread bounded by TIMEOUT."""
    confirmed: list[bool] = []

    def probe() -> None:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection = pika.BlockingConnection(pika.URLParameters(f"{cluster.direct_url(node)}?connection_attempts=1&socket_timeout=1"))
            try:
                channel = connection.channel()
                channel.confirm_delivery()
                channel.basic_publish("", queue, b"majority-probe", pika.BasicProperties(delivery_mode=2), mandatory=True)
                confirmed.append(True)
            finally:
                connection.close()

    thread = threading.Thread(target=probe, name="majority-probe", daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    return bool(confirmed)


def confirmed_after(journal: ClientJournal, kind: str) -> None:
    since = journal.cluster.timeline.of_kind(kind)[-1].at
    wait_until(
        lambda: any(p.at > since and p.outcome == "confirmed" for p in list(journal.publishes)),
        f"no publish confirmed after {kind}",
        journal,
    )


def queue_leader_kill(rabbitmq_cluster: IsolatedCluster[RabbitMQCluster]) -> None:
    """SIGKILL the node leading the quorum queue: the correct client reconnects to a survivor and
    every confirmed message is still in the queue; a client with one address and no reconnect is caught.
    A consumer on the leader has processed messages whose acks die with it: the queue redelivers them,
    and the handler that does not skip ids it has processed makes their effect twice."""
    queue = rabbitmq_cluster.name("kill")
    leader, order, publishers = start_publishers(rabbitmq_cluster, queue)
    handlers = Handlers(rabbitmq_cluster.journal("idempotent"), rabbitmq_cluster.journal("repeating"))
    consumer: pika.BlockingConnection | None = None
    try:
        on_leader = rabbitmq_cluster.cluster.urls()[rabbitmq_cluster.names.index(leader)]
        consumer = pika.BlockingConnection(pika.URLParameters(f"{on_leader}?connection_attempts=1&socket_timeout=1&heartbeat=2"))
        time.sleep(0.5)
        channel = consumer.channel()
        in_flight = []
        for _ in range(5):  # processed, not yet acknowledged when the leader dies
            method, _properties, body = channel.basic_get(queue, auto_ack=False)
            if method is not None:
                handlers.handle(body.decode())
                in_flight.append(method.delivery_tag)
        assert in_flight, "the consumer got nothing to process before the kill"
        rabbitmq_cluster.kill(leader)
        for tag in in_flight:  # the connection went down with the node: these acknowledgements are lost
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                channel.basic_ack(tag)
        confirmed_after(rabbitmq_cluster.journal("correct"), "kill")
        time.sleep(0.5)
    finally:
        for publisher in publishers:
            publisher.stop()
        if consumer is not None:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                consumer.close()
    received = received_from(rabbitmq_cluster.cluster, order[1], queue)
    for message_id in received:  # the consumer, reconnected to a survivor, gets the rest and the redeliveries
        handlers.handle(message_id)

    assert_cluster_client(rabbitmq_cluster.journal("correct"), received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"never connected to a surviving node(.|\n)*kill n\d"):
        assert_failover_within(rabbitmq_cluster.journal("no-reconnect"), FAILOVER_BUDGET)
    assert_no_duplicate_effects(handlers.idempotent)
    with pytest.raises(IpcAssertionError, match=r"took effect more than once(.|\n)*not idempotent(.|\n)*kill n\d"):
        assert_no_duplicate_effects(handlers.repeating)


def minority_partition(rabbitmq_cluster: IsolatedCluster[RabbitMQCluster]) -> None:
    """The queue leader is cut off from the other nodes and the client: it pauses itself
    (pause_minority), the majority elects a new leader, the correct client moves there."""
    queue = rabbitmq_cluster.name("minority")
    leader, order, publishers = start_publishers(rabbitmq_cluster, queue)
    try:
        time.sleep(0.5)
        rabbitmq_cluster.partition([leader], [CLIENT_SIDE])
        confirmed_after(rabbitmq_cluster.journal("correct"), "partition")
        time.sleep(0.5)
    finally:
        for publisher in publishers:
            publisher.stop()
    rabbitmq_cluster.heal()  # the paused node's broker must serve again before the cluster is healthy
    received = received_from(rabbitmq_cluster.cluster, order[1], queue)

    assert_cluster_client(rabbitmq_cluster.journal("correct"), received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"never connected to a surviving node(.|\n)*partition \{n\d\} \| \{client"):
        assert_failover_within(rabbitmq_cluster.journal("no-reconnect"), FAILOVER_BUDGET)


def majority_partition(rabbitmq_cluster: IsolatedCluster[RabbitMQCluster]) -> None:
    """The client is left with the queue leader on the minority side: that node pauses itself, so
    publishes are refused, never confirmed and lost; after healing every confirmed message is there.
    Replication is slowed first, so the leader's last half second is on no follower when the links go
    down: what the fire-and-forget publisher wrote then was never committed, and it is gone."""
    queue = rabbitmq_cluster.name("majority")
    leader, order, publishers = start_publishers(rabbitmq_cluster, queue)
    correct = rabbitmq_cluster.journal("correct")
    try:
        time.sleep(0.5)
        rabbitmq_cluster.slow_replication(0.5)
        time.sleep(1.0)
        rabbitmq_cluster.partition([leader, CLIENT_SIDE])
        since = rabbitmq_cluster.timeline.of_kind("partition")[-1].at
        wait_until(lambda: sum(p.at > since and p.outcome == "refused" for p in list(correct.publishes)) >= 5, "no refusal", correct)
        # the majority elects a queue leader of a later term before the old one rejoins, so that what the
        # old leader took and never committed is overwritten, not committed after the heal
        wait_until(lambda: side_confirms(rabbitmq_cluster.cluster, order[1], queue), "the majority confirmed nothing", correct)
        rabbitmq_cluster.heal()
        confirmed_after(correct, "heal")
        time.sleep(0.3)
    finally:
        for publisher in publishers:
            publisher.stop()
    rabbitmq_cluster.cluster.wait_until_healthy(TIMEOUT)  # after the heal, the nodes that paused restart first
    received = received_from(rabbitmq_cluster.cluster, order[1], queue)

    assert_cluster_client(correct, received)
    with pytest.raises(IpcAssertionError, match=r"silently dropped(.|\n)*does not use publisher confirms(.|\n)*partition \{client, n\d\}"):
        assert_publishes_accounted(rabbitmq_cluster.journal("no-confirms"), received)
