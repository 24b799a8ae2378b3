"""Redis clients for the cluster tests: a correct one and the broken ones each verdict must catch, and
the primary kill scenario that runs them (on the local and container backends).

Correct: finds the primary through every Sentinel, rediscovers it after a connection error, and
counts a write as confirmed only once a replica has it (``WAIT 1``). Broken: trusts the primary's
OK (no replica acknowledgement), or talks to one fixed address (no failover).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis.sentinel import Sentinel

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.cluster.assertions import ClientJournal, assert_cluster_client, assert_failover_within
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.redis import RedisCluster

WRITE_INTERVAL = 0.05
TIMEOUT = 0.5
WAIT_TIMEOUT_MS = 300
FAILOVER_BUDGET = 6.0
FAILOVER_TIMEOUT = 20.0


class MappedSentinel(Sentinel):
    """redis-py's Sentinel, with the announced addresses mapped to the client's own proxies (NAT)."""

    def __init__(self, cluster: RedisCluster) -> None:
        super().__init__(cluster.sentinel_addresses(), socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self.cluster = cluster

    def discover_master(self, service_name: str) -> Any:
        return self.cluster.client_view(*super().discover_master(service_name))

    def discover_slaves(self, service_name: str) -> Any:
        return [self.cluster.client_view(*address) for address in super().discover_slaves(service_name)]


class Writer:
    """Writes ``<namespace>:<label>-<n>`` every `WRITE_INTERVAL` on a thread until stopped."""

    def __init__(self, cluster: RedisCluster, journal: ClientJournal, namespace: str, label: str, *, sentinel: bool, wait: bool) -> None:
        self.cluster = cluster
        self.journal = journal
        self.namespace = namespace
        self.label = label
        self.wait = wait
        self._stop = threading.Event()
        self._node: str | None = None
        self.client: redis.Redis
        if sentinel:
            self._sentinel: MappedSentinel | None = MappedSentinel(cluster)
            self.client = self._sentinel.master_for(cluster.master_name, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        else:
            self._sentinel = None
            primary = cluster.leader() or cluster.names[0]
            self.client = redis.Redis("127.0.0.1", cluster.client_port(primary), socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self._thread = threading.Thread(target=self._run, name=f"writer-{label}", daemon=True)

    def _where(self) -> int:
        if self._sentinel is not None:
            return int(self._sentinel.discover_master(self.cluster.master_name)[1])
        return int(self.client.connection_pool.connection_kwargs["port"])

    def _run(self) -> None:
        sent = 0
        while not self._stop.is_set():
            message_id = f"{self.label}-{sent:04d}"
            sent += 1
            try:
                self.client.set(f"{self.namespace}:{message_id}", message_id)
                node = self.cluster.node_at(self._where())
                if node != self._node:
                    self._node = node
                    self.journal.connected(node)
                if not self.wait:
                    self.journal.published(message_id, "confirmed", "primary said OK")
                elif int(self.client.execute_command("WAIT", 1, WAIT_TIMEOUT_MS)) >= 1:
                    self.journal.published(message_id, "confirmed")
                else:
                    self.journal.published(message_id, "refused", "no replica acknowledged it")
            except redis.RedisError as error:
                if self._node is not None:
                    self.journal.disconnected(type(error).__name__)
                    self._node = None
                self.journal.published(message_id, "refused", type(error).__name__)
            time.sleep(WRITE_INTERVAL)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()


def wait_for_new_primary(cluster: RedisCluster, old: str) -> str:
    deadline = time.monotonic() + FAILOVER_TIMEOUT
    while time.monotonic() < deadline:
        primary = cluster.leader()
        if primary is not None and primary != old:
            return primary
        time.sleep(0.05)
    raise AssertionError(f"the Sentinels promoted no replica within {FAILOVER_TIMEOUT} s\n{cluster.timeline.render()}")


def wait_for_confirmed(journal: ClientJournal, after: float, timeout: float = FAILOVER_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not any(publish.at > after and publish.outcome == "confirmed" for publish in list(journal.publishes)):
        if time.monotonic() > deadline:
            raise journal.failure([f"no write confirmed within {timeout} s after {after:.3f} s"])
        time.sleep(0.05)


def received_keys(handle: IsolatedCluster[RedisCluster]) -> list[str]:
    """The values of the test's keys on the primary, read by the harness after healing."""
    return list(handle.cluster.primary_keys(f"{handle.namespace}:*").values())


#: The broken writers, by journal: the label of its keys, whether it finds the primary through the
#: Sentinels, and whether it waits for a replica's acknowledgement.
BROKEN_WRITERS = {"no-reconnect": ("fixed", False, True), "no-replica-ack": ("trusting", True, False)}


def fail_over(
    handle: IsolatedCluster[RedisCluster], fault: Callable[[str], None], kind: str, broken: str = "no-reconnect"
) -> tuple[ClientJournal, ClientJournal]:
    """Run the correct writer and a `broken` one while `fault` hits the primary, until a replica is
    promoted and the correct writer has a write confirmed after the fault's last event of `kind`;
    returns their journals (correct, broken)."""
    cluster = handle.cluster
    primary = cluster.leader()
    assert primary is not None
    label, sentinel, wait = BROKEN_WRITERS[broken]
    correct, wrong = handle.journal("correct"), handle.journal(broken)
    writers = [
        Writer(cluster, correct, handle.namespace, "ok", sentinel=True, wait=True).start(),
        Writer(cluster, wrong, handle.namespace, label, sentinel=sentinel, wait=wait).start(),
    ]
    try:
        time.sleep(0.3)
        fault(primary)
        wait_for_new_primary(cluster, primary)
        wait_for_confirmed(correct, handle.timeline.of_kind(kind)[-1].at)
        time.sleep(0.3)
    finally:
        for writer in writers:
            writer.stop()
    return correct, wrong


def primary_kill(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """SIGKILL the primary (server and Sentinel): the correct client follows Sentinel to the new primary;
    one that talks to the primary's address alone is caught."""
    correct, fixed = fail_over(redis_cluster, redis_cluster.kill, "kill")
    received = received_keys(redis_cluster)

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"reconnect to a surviving node \(n\d, n\d\)(.|\n)*never connected(.|\n)*Sentinel"):
        assert_failover_within(fixed, FAILOVER_BUDGET)
