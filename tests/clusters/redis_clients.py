"""Redis clients for the cluster tests: a correct one and the broken ones each verdict must catch.

Correct: finds the primary through every Sentinel, rediscovers it after a connection error, and
counts a write as confirmed only once a replica has it (``WAIT 1``). Broken: trusts the primary's
OK (no replica acknowledgement), or talks to one fixed address (no failover).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from redis.sentinel import Sentinel

from pytest_ipc.cluster.assertions import ClientJournal
from pytest_ipc.cluster.redis import RedisCluster

WRITE_INTERVAL = 0.05
TIMEOUT = 0.5
WAIT_TIMEOUT_MS = 300


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
