"""NATS with JetStream on three nodes; streams replicated three times (``num_replicas=3``).

Each node's cluster routes point at proxy listeners (``route(node, peer, "cluster")``). Two settings
keep every byte on the proxies: ``no_advertise`` (servers do not tell clients the other servers'
real addresses) and a route ``advertise`` address where nothing listens (servers that learn of a
peer by gossip cannot dial it behind the proxy's back; the explicit routes form the full mesh).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import httpx

from pytest_ipc._net import LOOPBACK
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.nats import INSTALL_HINT, NatsRequester, delete_streams, nats_healthy
from pytest_ipc.cluster.core import Cluster, ClusterError, ClusterNode
from pytest_ipc.cluster.runner import Program

#: JetStream's "no suitable peers for placement" (a node it still counts as offline).
NO_PLACEMENT = 10005
#: How long a stream's creation waits for JetStream to see every node again after a heal.
PLACEMENT_WAIT = 45.0


def _monitor(node: ClusterNode, path: str) -> dict[str, Any]:
    answer = httpx.get(f"http://{LOOPBACK}:{node.ports['monitor']}/{path}", timeout=1.0)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


#: A node's JetStream report with its streams: the meta group's view and each stream replica's.
JETSTREAM_REPORT = "jsz?accounts=true&streams=true"


def _stream_problem(reports: dict[str, dict[str, Any]]) -> str | None:
    """A stream whose replicas disagree on its leader or on how many messages it holds, in the
    running nodes' `reports` (name: `JETSTREAM_REPORT`). Right after a heal, the replica that was
    cut off still answers for the stream as it was before the partition until it has caught up: a
    read then would miss what the majority confirmed meanwhile."""
    views: dict[tuple[str, str], dict[str, tuple[str | None, int]]] = {}
    for name, report in reports.items():
        for account in report.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                view = ((stream.get("cluster") or {}).get("leader"), int((stream.get("state") or {}).get("messages", 0)))
                views.setdefault((str(account.get("name")), str(stream.get("name"))), {})[name] = view
    for (_, stream_name), by_node in views.items():
        if len(set(by_node.values())) > 1 or None in {leader for leader, _ in by_node.values()}:
            shown = ", ".join(f"{node}: leader {leader}, {messages} message(s)" for node, (leader, messages) in by_node.items())
            return f"the replicas of stream {stream_name} have not caught up ({shown})"
    return None


class NatsCluster(Cluster):
    """Three nats-server nodes with JetStream, routes through the proxy."""

    kind = "nats"
    port_names = ("client", "cluster", "monitor", "nowhere")
    peer_ports = ("cluster",)
    binaries = ("nats-server",)
    install_hint = INSTALL_HINT

    def configure(self, node: ClusterNode) -> None:
        peers = [peer for peer in self.names if peer != node.name]
        routes = ", ".join(f'"nats-route://{LOOPBACK}:{self.route(node.name, peer, "cluster")}"' for peer in peers)
        (node.base / "nats.conf").write_text(
            f'server_name: "{node.name}"\n'
            f'listen: "{LOOPBACK}:{node.ports["client"]}"\n'
            f'http: "{LOOPBACK}:{node.ports["monitor"]}"\n'
            f'jetstream {{ store_dir: "{node.base / "jetstream"}" }}\n'
            "cluster {\n"
            f'  name: "ipc-{self.token}"\n'
            f'  listen: "{LOOPBACK}:{node.ports["cluster"]}"\n'
            # The reservation of this port never listens: gossip-learnt routes fail, explicit ones carry all.
            f'  advertise: "{LOOPBACK}:{node.ports["nowhere"]}"\n'
            "  no_advertise: true\n"
            f"  routes: [ {routes} ]\n"
            "}\n"
        )

    def node_programs(self, node: ClusterNode) -> list[Program]:
        monitor = node.ports["monitor"]
        server = Program(
            f"nats-{node.name}",
            ("nats-server", "-c", str(node.base / "nats.conf")),
            node.base,
            ready=lambda: nats_healthy(monitor),
            ready_timeout=self.ready_timeout,
        )
        return [server]

    def _running(self) -> list[ClusterNode]:
        return [node for node in self.nodes.values() if node.state == "running"]

    def health_problem(self) -> str | None:
        running = self._running()
        if not running:
            return "no node runs"
        reports: dict[str, dict[str, Any]] = {}
        for node in running:
            routes = _monitor(node, "routez")["num_routes"]
            if routes < len(running) - 1:
                return f"{node.name} has {routes} route(s), expected {len(running) - 1}"
            reports[node.name] = _monitor(node, JETSTREAM_REPORT)
            meta = reports[node.name].get("meta_cluster") or {}
            if not meta.get("leader"):
                return f"{node.name} sees no JetStream meta leader"
            if meta.get("leader") == node.name:  # only the meta leader lists its peers: a stream's placement asks it
                peers = {peer.get("name"): peer for peer in meta.get("replicas") or []}
                for other in running:
                    peer = peers.get(other.name)
                    if other.name != node.name and (peer is None or peer.get("offline") or not peer.get("current")):
                        return f"the JetStream meta leader {node.name} counts {other.name} offline or behind: {peer}"
        return _stream_problem(reports)

    def leader(self) -> str | None:
        """The JetStream meta leader (it places streams and answers the JetStream API)."""
        for node in self._running():
            try:
                leader = (_monitor(node, "jsz").get("meta_cluster") or {}).get("leader")
            except httpx.HTTPError:
                continue
            if leader:
                return str(leader)
        return None

    def endpoint(self, name: str | None = None) -> BrokerEndpoint:
        """A client endpoint through the proxy of node `name` (the first running node by default)."""
        target = name or self._running()[0].name
        return BrokerEndpoint("nats", LOOPBACK, self.client_port(target))

    def direct_endpoint(self, name: str) -> BrokerEndpoint:
        """Node `name`'s own client port, bypassing the proxies (for the harness, not for clients)."""
        return BrokerEndpoint("nats", LOOPBACK, self.node(name).ports["client"])

    def urls(self) -> list[str]:
        """``nats://`` URLs of every node, through the client proxies."""
        return [f"nats://{host}:{port}" for host, port in self.client_addresses()]

    def js_request(self, subject: str, payload: dict[str, object] | None = None, *, on: Collection[str] | None = None) -> dict[str, Any]:
        """A JetStream API request on a running node (of `on`, if given), direct, not through the client proxies."""
        last: Exception | None = None
        for node in self._running():
            if on is not None and node.name not in on:
                continue
            try:
                requester = NatsRequester(self.direct_endpoint(node.name), timeout=5.0)
            except OSError as error:
                last = error
                continue
            try:
                answer = requester.request(subject, payload)
            finally:
                requester.close()
            if answer is None:
                raise ClusterError(f"JetStream did not answer {subject} on {node.name}")
            return answer
        raise ClusterError(f"no running node answered {subject}: {last}")

    def add_stream(self, name: str, subjects: list[str], replicas: int = 3, **config: object) -> dict[str, Any]:
        """Create a stream replicated on `replicas` nodes; returns its info.

        Just after a heal, JetStream's meta leader may still count a node as offline ("no suitable
        peers for placement", 10005) until the node's next heartbeat: that answer is asked again
        for up to `PLACEMENT_WAIT` seconds."""
        deadline = time.monotonic() + PLACEMENT_WAIT
        while True:
            request = {"name": name, "subjects": subjects, "num_replicas": replicas, **config}
            answer = self.js_request(f"$JS.API.STREAM.CREATE.{name}", request)
            error = answer.get("error")
            if not (isinstance(error, dict) and error.get("err_code") == NO_PLACEMENT and time.monotonic() < deadline):
                break
            time.sleep(0.2)
        if "error" in answer:
            raise ClusterError(f"JetStream refused stream {name}: {answer['error']}")
        return answer

    def stream_leader(self, stream: str, *, asking: Collection[str] | None = None) -> str | None:
        """The node that leads `stream`'s replicas now (it confirms the publishes), as the nodes
        `asking` see it (any running node by default: ask the majority's during a partition)."""
        answer = self.js_request(f"$JS.API.STREAM.INFO.{stream}", on=asking)
        leader = (answer.get("cluster") or {}).get("leader")
        return str(leader) if leader else None

    def stream_messages(self, stream: str) -> int:
        """How many messages `stream` holds."""
        answer = self.js_request(f"$JS.API.STREAM.INFO.{stream}")
        return int((answer.get("state") or {}).get("messages", 0))

    def cleanup(self, namespace: str) -> None:
        for node in self._running():
            delete_streams(self.direct_endpoint(node.name), namespace)
            return
