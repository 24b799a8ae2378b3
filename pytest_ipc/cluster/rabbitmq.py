"""RabbitMQ on three nodes with quorum queues, Erlang distribution through the fault proxy.

Erlang distribution finds a peer through epmd, then connects to the port epmd names. Each node has a
private epmd on a port of its own (``ERL_EPMD_PORT``, never the system's 4369), where the harness
registers every peer's name with the port of the proxy in front of that peer's fixed dist port (an
ALIVE2 registration held open, as a node holds its own): a node that looks a peer up dials the
proxy, so every inter-node byte crosses one. All nodes boot at once, the others cut off from the
first until it serves: the first forms the cluster alone; each other node knows only the first
(``classic_config`` peer discovery, no randomized startup delay) and retries until the first
answers, then joins it. Booting side by side, they would deadlock on peer discovery's cluster-wide
lock (the first waits for it while a joiner holds it, waiting for the first). ``pause_minority``
stops a node that is cut off from the majority, and a short ``net_ticktime`` notices a black-holed
peer in seconds.
"""

from __future__ import annotations

import socket
import struct
from typing import Any
from urllib.parse import quote

import httpx

from pytest_ipc._errors import IpcError
from pytest_ipc._net import LOOPBACK, accepts_connections
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.rabbitmq import INSTALL_HINT, RABBITMQ_SERVER, amqp_ready, is_official_image, node_environment
from pytest_ipc.brokers.rabbitmq_home import enable_plugins
from pytest_ipc.cluster.core import Cluster, ClusterError, ClusterNode
from pytest_ipc.cluster.runner import NodeRunner, Program

#: Seconds between distribution ticks, times four: a silent peer is down after about this long.
NET_TICKTIME = 4
#: Seconds between a joining node's attempts to reach the first node while that one still boots.
DISCOVERY_RETRY_INTERVAL = 0.2
#: RabbitMQ 3.10's race at a join: the joining node reads its feature flags file while another of its
#: processes rewrites it, and stops (``case_clause,{ok,[]}``). Seen here in 2 of about 80 starts; a
#: start that meets it starts the cluster again, once.
FEATURE_FLAGS_RACE = "rabbit_feature_flags:try_to_read_enabled_feature_flags_list"


def register_with_epmd(epmd_port: int, name: str, port: int) -> socket.socket:
    """Register `name` at `port` with the epmd on `epmd_port` (ALIVE2_REQ); the name stays registered
    while the returned socket is open."""
    encoded = name.encode()
    # 'x', port, node type 'M' (normal), protocol 0 (TCP/IPv4), highest and lowest version 6, name, no extra.
    body = b"x" + struct.pack(">HBBHHH", port, 77, 0, 6, 6, len(encoded)) + encoded + struct.pack(">H", 0)
    connection = socket.create_connection((LOOPBACK, epmd_port), timeout=5)
    connection.sendall(struct.pack(">H", len(body)) + body)
    answer = connection.recv(16)
    if len(answer) < 2 or answer[0] not in (ord("y"), ord("v")) or answer[1] != 0:
        connection.close()
        raise ClusterError(f"epmd on port {epmd_port} refused to register {name} at port {port}: {answer!r}")
    return connection


class RabbitMQCluster(Cluster):
    """Three RabbitMQ nodes, clustered, every distribution link through a proxy."""

    kind = "rabbitmq"
    port_names = ("amqp", "dist", "epmd", "management")
    peer_ports = ("dist",)
    ready_timeout = 120.0
    binaries = (RABBITMQ_SERVER, "epmd", "erl")
    install_hint = INSTALL_HINT

    def __init__(self, size: int = 3, runner: NodeRunner | None = None) -> None:
        super().__init__(size, runner)
        self.username = f"ipc-{self.token}"
        self.password = self.token * 4
        self._registrations: dict[str, list[socket.socket]] = {}
        self._envs: dict[str, dict[str, str]] = {}

    def node_name(self, name: str) -> str:
        return f"rabbit-{self.token}-{name}@localhost"

    def configure(self, node: ClusterNode) -> None:
        base = node.base
        (base / "rabbitmq-env.conf").write_text("")
        (base / "advanced.config").write_text(f"[{{kernel, [{{net_ticktime, {NET_TICKTIME}}}]}}].\n")
        local = self.runner.image is None
        home = enable_plugins(base, ("rabbitmq_management",), self._server_script() if local else None)
        # The first node forms the cluster without looking for peers; each other node looks only for the
        # first (two joiners that found each other first would form a second cluster) and retries as
        # long as a node may take to boot. Restarted nodes find their cluster in their own data.
        first = self.names[0]
        members = (first,) if node.name == first else (first, node.name)
        peers = "".join(
            f"cluster_formation.classic_config.nodes.{index} = {self.node_name(name)}\n" for index, name in enumerate(members, 1)
        )
        retries = int(self.ready_timeout / DISCOVERY_RETRY_INTERVAL)
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {LOOPBACK}:{node.ports['amqp']}\n"
            f"default_user = {self.username}\ndefault_pass = {self.password}\n"
            "log.console = false\nloopback_users = none\n"
            f"management.tcp.ip = {LOOPBACK}\nmanagement.tcp.port = {node.ports['management']}\n"
            "cluster_partition_handling = pause_minority\n"
            "cluster_formation.peer_discovery_backend = classic_config\n"
            "cluster_formation.randomized_startup_delay_range.min = 0\ncluster_formation.randomized_startup_delay_range.max = 0\n"
            f"cluster_formation.discovery_retry_limit = {retries}\n"
            f"cluster_formation.discovery_retry_interval = {int(DISCOVERY_RETRY_INTERVAL * 1000)}\n" + peers
        )
        cookie = base / ".erlang.cookie"
        cookie.write_text(self.password.upper())
        cookie.chmod(0o400)
        self._envs[node.name] = {**node_environment(base, self.node_name(node.name), node.ports), **home}

    def node_programs(self, node: ClusterNode) -> list[Program]:
        env = self._envs[node.name]
        epmd_port = node.ports["epmd"]
        endpoint = BrokerEndpoint("rabbitmq", LOOPBACK, node.ports["amqp"], self.username, self.password)
        epmd = Program(
            f"epmd-{node.name}",
            ("epmd", "-port", str(epmd_port)),
            node.base,
            env,
            ready=lambda: accepts_connections(LOOPBACK, epmd_port),
        )
        server = Program(
            f"rabbitmq-{node.name}",
            (self._server_script(),),
            node.base,
            env,
            ready=lambda: amqp_ready(endpoint),
            ready_timeout=self.ready_timeout,
        )
        return [epmd, server]

    def _server_script(self) -> str:
        """The unwrapped server script (Debian's /usr/sbin wrapper switches users), on this machine
        and in images of Debian's package; the official images' own, on their PATH."""
        image = self.runner.image
        return "rabbitmq-server" if image is not None and is_official_image(image) else RABBITMQ_SERVER

    def _launch(self, node: ClusterNode) -> None:
        """Start the node's epmd, register its peers there (at their proxies), then the node."""
        epmd, server = self.node_processes(node)
        epmd.start()
        for registration in self._registrations.pop(node.name, []):
            registration.close()
        self._registrations[node.name] = [
            register_with_epmd(node.ports["epmd"], f"rabbit-{self.token}-{peer}", self.route(node.name, peer, "dist"))
            for peer in self.names
            if peer != node.name
        ]
        server.start()
        node.state = "running"

    def stop(self) -> None:
        super().stop()
        for registrations in self._registrations.values():
            for registration in registrations:
                registration.close()
        self._registrations = {}

    def start(self) -> RabbitMQCluster:
        """Start the cluster; again, once, after RabbitMQ's feature flags race at a join."""
        try:
            super().start()
        except IpcError as error:  # a node's process or container that ended, with its log's tail
            if FEATURE_FLAGS_RACE not in str(error):
                raise
            super().start()
        return self

    def start_nodes(self) -> None:
        """Every node at once, the first isolated until it serves (then the others join it)."""
        self.isolate(self.names[0])
        super().start_nodes()

    def _start_node(self, node: ClusterNode) -> None:
        self._launch(node)
        if node.name == self.names[0]:
            self.heal()

    def api(self, name: str, path: str) -> Any:
        """GET the management API of node `name` (direct, not through the proxies)."""
        answer = httpx.get(
            f"http://{LOOPBACK}:{self.node(name).ports['management']}/api/{path}", auth=(self.username, self.password), timeout=2.0
        )
        answer.raise_for_status()
        return answer.json()

    def _running(self) -> list[ClusterNode]:
        return [node for node in self.nodes.values() if node.state == "running"]

    def health_problem(self) -> str | None:
        running = self._running()
        wanted = {self.node_name(node.name) for node in running}
        for node in running:
            nodes = self.api(node.name, "nodes")
            up = {entry["name"] for entry in nodes if entry.get("running")}
            if not wanted <= up:
                return f"{node.name} sees {sorted(up)} running, expected {sorted(wanted)}"
            if partitions := [entry["name"] for entry in nodes if entry.get("partitions")]:
                return f"{node.name} reports partitions on {partitions}"
        return None

    def leader(self) -> str | None:
        return None

    def queue_leader(self, queue: str, vhost: str = "/") -> str | None:
        """The node leading quorum queue `queue` now, as a running node sees it."""
        for node in self._running():
            try:
                info = self.api(node.name, f"queues/{quote(vhost, safe='')}/{quote(queue, safe='')}")
            except httpx.HTTPError:
                continue
            leader = str(info.get("leader") or info.get("node") or "")
            for name in self.names:
                if leader == self.node_name(name):
                    return name
        return None

    def cleanup(self, namespace: str) -> None:
        for node in self._running():
            for queue in self.api(node.name, "queues/%2F"):
                if str(queue["name"]).startswith(f"{namespace}."):
                    url = f"http://{LOOPBACK}:{node.ports['management']}/api/queues/%2F/{quote(queue['name'], safe='')}"
                    httpx.delete(url, auth=(self.username, self.password), timeout=5.0)
            return

    def direct_url(self, name: str) -> str:
        """Node `name`'s own AMQP URL, bypassing the proxies (for the harness)."""
        return f"amqp://{self.username}:{self.password}@{LOOPBACK}:{self.node(name).ports['amqp']}/%2F"

    def urls(self) -> list[str]:
        """AMQP URLs of every node through the client proxies."""
        return [f"amqp://{self.username}:{self.password}@{host}:{port}/%2F" for host, port in self.client_addresses()]


__all__ = ["ClusterError", "RabbitMQCluster"]
