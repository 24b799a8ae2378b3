"""Redis with a primary, two replicas and three Sentinels (one per node), every link through the proxy.

Redis and Sentinel know one address per instance and hand the same one to everyone (a replica's
``replicaof``, Sentinel's answer to clients), so each instance announces one proxy shared by all its
peers (``replica-announce-*``, ``sentinel announce-*``). Each node's server and Sentinel dial from
the node's own loopback address (``bind-source-addr``, Redis 7), so the shared proxy tells the peers
apart and a partition cuts both ways: a Sentinel cut off from the majority keeps its old primary
until the heal, a split brain as in a real partition. Clients reach the nodes through proxies of
their own; Sentinel's answers name the peers' proxies, which a client maps to its own with
`RedisCluster.client_view` (as a client behind NAT does), so a partition can put the client on the
primary's side, cut off from the majority as in a real partition.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import redis

from pytest_ipc._net import LOOPBACK
from pytest_ipc.brokers.redis import INSTALL_HINT
from pytest_ipc.cluster.core import CLIENT_SIDE, Cluster, ClusterNode, each_node
from pytest_ipc.cluster.runner import Program

MASTER = "ipc"
#: Sentinel calls a primary down after this many milliseconds without an answer.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


def _client(port: int) -> redis.Redis:
    return redis.Redis(LOOPBACK, port, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True)


class RedisCluster(Cluster):
    """A Redis primary (``n1`` at first), replicas on the other nodes, a Sentinel on every node."""

    kind = "redis"
    port_names = ("redis", "sentinel")
    peer_ports = ("redis", "sentinel")
    client_ports = ("redis", "sentinel")
    shared_peer_links = True
    master_name = MASTER
    binaries = ("redis-server",)
    install_hint = INSTALL_HINT

    def configure(self, node: ClusterNode) -> None:
        first = self.names[0]
        replica = "" if node.name == first else f"replicaof {LOOPBACK} {self.route(node.name, first, 'redis')}\n"
        (node.base / "redis.conf").write_text(
            f"bind {LOOPBACK}\nport {node.ports['redis']}\ndir {node.base}\n"
            f'save ""\nappendonly no\nprotected-mode no\nbind-source-addr {node.source}\n'
            f"replica-announce-ip {LOOPBACK}\nreplica-announce-port {self.route(node.name, node.name, 'redis')}\n"
            "repl-timeout 5\nrepl-ping-replica-period 1\nrepl-diskless-sync-delay 0\n" + replica
        )
        (node.base / "sentinel.conf").write_text(
            f"bind {LOOPBACK}\nport {node.ports['sentinel']}\ndir {node.base}\nprotected-mode no\nbind-source-addr {node.source}\n"
            f"sentinel announce-ip {LOOPBACK}\nsentinel announce-port {self.route(node.name, node.name, 'sentinel')}\n"
            f"sentinel monitor {MASTER} {LOOPBACK} {self.route(node.name, first, 'redis')} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 2\n"
            # Known up front, so the Sentinels need not wait for each other's hellos (every 2 s).
            f"sentinel myid {self._sentinel_id(node.name)}\n"
            + "".join(
                f"sentinel known-sentinel {MASTER} {LOOPBACK} {self.route(node.name, peer, 'sentinel')} {self._sentinel_id(peer)}\n"
                for peer in self.names
                if peer != node.name
            )
            + "".join(f"sentinel known-replica {MASTER} {LOOPBACK} {self.route(node.name, peer, 'redis')}\n" for peer in self.names[1:])
        )

    def start_nodes(self) -> None:
        """The primary first, then the others at once: a replica that dials the primary before it
        listens finds the proxy's connection closed and tries again only a second later."""
        first, *others = self.nodes.values()
        self._start_node(first)
        each_node(others, self._start_node, "start")

    def _sentinel_id(self, name: str) -> str:
        """A fixed 40-hex-digit Sentinel id per node of this cluster."""
        return hashlib.sha1(f"{self.token}-{name}".encode()).hexdigest()

    def node_programs(self, node: ClusterNode) -> list[Program]:
        redis_port, sentinel_port = node.ports["redis"], node.ports["sentinel"]
        server = Program(
            f"redis-{node.name}",
            ("redis-server", str(node.base / "redis.conf")),
            node.base,
            ready=lambda: bool(_client(redis_port).ping()),
            ready_timeout=self.ready_timeout,
        )
        sentinel = Program(
            f"sentinel-{node.name}",
            ("redis-server", str(node.base / "sentinel.conf"), "--sentinel"),
            node.base,
            ready=lambda: bool(_client(sentinel_port).ping()),
            ready_timeout=self.ready_timeout,
        )
        return [server, sentinel]

    def _running(self) -> list[ClusterNode]:
        return [node for node in self.nodes.values() if node.state == "running"]

    def direct(self, name: str, port: str = "redis") -> redis.Redis:
        """A client of node `name`'s own `port`, bypassing the proxies (for the harness)."""
        return _client(self.node(name).ports[port])

    def _primary_seen_by(self, node: ClusterNode) -> str | None:
        answer: Any = _client(node.ports["sentinel"]).sentinel_get_master_addr_by_name(MASTER)
        return self.node_at(int(answer[1])) if answer else None

    def leader(self) -> str | None:
        """The primary a majority of the cluster's Sentinels name (None while none has one): during a
        partition the majority's, while a Sentinel cut off from it keeps its own until the heal."""
        return self._majority([self._primary_seen_by(node) for node in self._running()])

    def _majority(self, named: list[str | None]) -> str | None:
        primary, votes = Counter(named).most_common(1)[0] if named else (None, 0)
        return primary if votes > len(self.names) // 2 else None

    def health_problem(self) -> str | None:
        running = self._running()
        seen = {node.name: self._primary_seen_by(node) for node in running}
        primary = self._majority(list(seen.values()))
        if primary is None or self.node(primary).state != "running":
            return f"the Sentinels do not agree on a running primary ({seen})"
        if len(set(seen.values())) > 1:
            return f"the Sentinels do not all name {primary} yet ({seen})"
        info = self.direct(primary).info("replication")
        if info.get("role") != "master":
            return f"{primary} is named primary but its role is {info.get('role')}"
        if int(info.get("connected_slaves", 0)) < len(running) - 1:
            return f"primary {primary} has {info.get('connected_slaves')} replica(s), expected {len(running) - 1}"
        for node in running:
            if node.name != primary:
                replica = self.direct(node.name).info("replication")
                if replica.get("master_link_status") != "up" or self.node_at(int(replica.get("master_port", 0))) != primary:
                    return f"{node.name} does not replicate from {primary} yet"
            sentinels: Any = _client(node.ports["sentinel"]).sentinel_sentinels(MASTER)
            if len(sentinels) < len(running) - 1:
                return f"the Sentinel of {node.name} knows {len(sentinels)} other Sentinel(s)"
        return None

    def converge(self) -> None:
        """Between tests: a node that still calls itself primary after a failover (restarted or
        healed) is made a replica of the agreed primary at once, instead of at Sentinel's next INFO
        round (up to 10 s)."""
        primary = self.leader()
        if primary is None:
            return
        for node in self._running():
            if node.name != primary and self.direct(node.name).info("replication").get("role") == "master":
                self.direct(node.name).replicaof(LOOPBACK, self.route(node.name, primary, "redis"))

    def client_view(self, host: str, port: int) -> tuple[str, int]:
        """The client's own proxy for an address that Sentinel or a replica announced."""
        node = self.node_at(port)
        if node is None:
            return host, port
        for link in self.links.values():
            if link.listen_port == port:
                return LOOPBACK, self.client_port(node, link.port)
        return host, port

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """Where clients find the Sentinels, through their client proxies."""
        return [(LOOPBACK, self.client_port(name, "sentinel")) for name in self.names]

    def primary_keys(self, pattern: str) -> dict[str, str]:
        """Keys matching `pattern` and their values on the current primary (harness, after healing)."""
        primary = self.leader()
        if primary is None:
            return {}
        client = self.direct(primary)
        keys = list(client.scan_iter(match=pattern, count=1000))
        values: list[Any] = client.mget(keys) if keys else []
        return {key: value for key, value in zip(keys, values, strict=True) if value is not None}

    def cleanup(self, namespace: str) -> None:
        primary = self.leader()
        if primary is not None:
            client = self.direct(primary)
            keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
            if keys:
                client.delete(*keys)


__all__ = ["CLIENT_SIDE", "RedisCluster"]
