"""A cluster of private broker nodes whose every link runs through the fault proxy.

Each node runs on reserved loopback ports, as local processes or as containers in the host's
network namespace (a `pytest_ipc.cluster.runner.NodeRunner` runs its programs). Every inter-node link is a proxy of a
private embedded Toxiproxy server (`pytest_ipc.toxiproxy.EmbeddedToxiproxy`, driven through
`pytest_ipc.client.ToxiproxyClient`): one proxy per ordered pair of nodes and per port that peers
use, so that a partition is a set of proxies switched off, and slow replication a latency toxic on
them. Where a broker knows one address per node (Redis), its peers share that node's proxy and each
node dials from a loopback address of its own (127.0.2.<n>), so a partition cuts a pair by source
on the shared proxy, both ways as between separate proxies. Clients reach each node through a proxy
of its own too, so a partition can put the client on one side.

A broker kind (`pytest_ipc.cluster.nats`, ...) says how a node is configured to reach its peers
through ``route(source, target, port)``, how the cluster says it is healthy, and who leads.

Faults (each recorded on the `Timeline`):

- ``kill(node)``: SIGKILL, a crash; ``restart(node)`` brings it back on its ports with its data;
- ``pause(node)``: SIGSTOP (in a container: the cgroup freezer), a node that hangs (GC pause,
  overloaded VM) but keeps its sockets; ``resume(node)``: SIGCONT (the freezer thawed);
- ``partition(sides...)``: links between the sides go down (refused and reset, or black-holed);
- ``slow_replication(latency)``: latency on every inter-node link;
- ``heal()``: every link up and clean, every node running again.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pytest_ipc._errors import IpcError, IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.local import make_private_dir, remove_private_dir, reserve_port
from pytest_ipc.cluster.runner import NodeProcess, NodeRunner, Program
from pytest_ipc.cluster.timeline import CLIENT, CLUSTER, Timeline
from pytest_ipc.toxiproxy.proxy import SourceCut

if TYPE_CHECKING:
    from pytest_ipc.client.client import ToxiproxyClient
    from pytest_ipc.client.proxy import Proxy
    from pytest_ipc.toxiproxy import EmbeddedToxiproxy
    from pytest_ipc.toxiproxy.proxy import TcpProxy

NodeState = Literal["running", "paused", "killed"]
PartitionMode = SourceCut  # a cut link refuses (resets) or black-holes, whether a proxy or one source on it
PARTITION_MODES: tuple[PartitionMode, ...] = ("refuse", "blackhole")
#: The pseudo node that stands for the client under test in `Cluster.partition` sides.
CLIENT_SIDE = CLIENT
#: The source of the links that every peer shares (`Cluster.shared_peer_links`).
PEERS = "peers"
#: The loopback network whose address .<n> node n<n> dials from when its peers share proxies (all of
#: 127.0.0.0/8 is loopback on Linux; every cluster may use the same: a cut is per proxy).
PEER_SOURCES = "127.0.2"
HEALTH_POLL = 0.05
BLACKHOLE = "ipc-partition"
SLOW = "ipc-slow-replication"


class ClusterError(IpcError):
    """A cluster could not start, did not become healthy, or a control was misused."""


@dataclass
class ClusterNode:
    """One node: its name, its real ports (never what clients or peers dial), its directory (its
    config and data), its processes (as the cluster's runner runs them)."""

    name: str
    ports: dict[str, int]
    base: Path
    processes: list[NodeProcess] = field(default_factory=list)
    state: NodeState = "running"
    reservations: list[socket.socket] = field(default_factory=list)
    #: The address it dials its peers from (its own where peers share proxies: `Cluster.shared_peer_links`).
    source: str = LOOPBACK


@dataclass(frozen=True)
class Link:
    """The proxy that carries `source`'s connections to `target`'s `port` ("client" for clients)."""

    source: str
    target: str
    port: str
    proxy: Proxy

    @property
    def listen_port(self) -> int:
        return self.proxy.port


class Cluster(ABC):
    """Start, break and heal a cluster of one broker kind; subclasses know the broker."""

    kind: str
    #: Ports each node listens on; the first is the client port.
    port_names: tuple[str, ...] = ("client",)
    #: Ports that peers dial: each gets a proxy per ordered pair of nodes.
    peer_ports: tuple[str, ...] = ()
    #: Ports that clients dial (through a proxy per node and port); the client port by default.
    client_ports: tuple[str, ...] = ()
    #: True for brokers that know one address per node (Redis: Sentinel hands the same address to
    #: everyone): peers then share one proxy per node and port (source ``PEERS``), each node dials
    #: from its own address (`ClusterNode.source`, which its config must bind its outgoing
    #: connections to), and a partition cuts the pairs across the sides by source on those proxies.
    shared_peer_links = False
    ready_timeout = 60.0
    #: The programs a node needs, looked up on PATH by the local runner.
    binaries: tuple[str, ...] = ()
    #: How to install them, for skip reasons.
    install_hint = ""

    def __init__(self, size: int = 3, runner: NodeRunner | None = None) -> None:
        """`runner` runs the nodes' programs: local processes by default (`local_runner`)."""
        if size < 1:
            raise IpcUsageError(f"a cluster needs at least one node, got size={size}")
        self.runner = runner or self.local_runner()
        self.size = size
        self.names = tuple(f"n{index}" for index in range(1, size + 1))
        self.token = secrets.token_hex(4)
        self.timeline = Timeline()
        self.nodes: dict[str, ClusterNode] = {}
        self.links: dict[tuple[str, str, str], Link] = {}
        self._server: EmbeddedToxiproxy | None = None
        self._proxies: ToxiproxyClient | None = None
        self._base: Path | None = None
        self._cut: set[tuple[str, str, str]] = set()
        #: The ports of refused links, held while they are down (see `_hold_port`).
        self._held_ports: dict[tuple[str, str, str], socket.socket] = {}
        self._slow = False
        self._lock = threading.RLock()
        self.start_seconds: float | None = None

    # -- what a broker kind provides -------------------------------------------------------------

    @abstractmethod
    def configure(self, node: ClusterNode) -> None:
        """Write `node`'s config into ``node.base``; peers are reached at ``route(node, peer, port)``."""

    @abstractmethod
    def node_programs(self, node: ClusterNode) -> list[Program]:
        """The node's programs in start order, each with a probe that passes once it serves."""

    @abstractmethod
    def health_problem(self) -> str | None:
        """None when the cluster as a whole is formed and serving, else what is still wrong."""

    @abstractmethod
    def leader(self) -> str | None:
        """The name of the node that leads the cluster now (None while there is none)."""

    def start_nodes(self) -> None:
        """Start every node (in parallel: a cluster's nodes wait for each other at boot)."""
        each_node(self.nodes.values(), self._start_node, "start")

    def cleanup(self, namespace: str) -> None:
        """Remove what a test made under `namespace` (streams, keys, queues)."""
        return None

    # -- life of the cluster -----------------------------------------------------------------------

    @classmethod
    def local_runner(cls) -> NodeRunner:
        """Nodes as local processes from the kind's `binaries` on PATH."""
        from pytest_ipc.cluster.runner_local import LocalNodes

        return LocalNodes(cls.binaries, cls.install_hint)

    def unavailable_reason(self) -> str | None:
        """None when the runner can run this kind's nodes here, else why not (and a hint)."""
        if self.shared_peer_links and (missing := _missing_peer_source(self.size)) is not None:
            return missing
        return self.runner.unavailable_reason()

    def start(self) -> Cluster:
        """Reserve ports, create every link, configure and start the nodes, wait until healthy."""
        began = time.monotonic()
        try:
            from pytest_ipc.client.client import ToxiproxyClient
            from pytest_ipc.toxiproxy import EmbeddedToxiproxy

            self._base = make_private_dir(f"{self.kind}-cluster")
            self._server = EmbeddedToxiproxy().start()
            self._proxies = ToxiproxyClient(self._server.url)
            for index, name in enumerate(self.names, start=1):
                base = self._base / name
                base.mkdir()
                reservations = [reserve_port() for _ in self.port_names]
                ports = {port: reservation.getsockname()[1] for port, reservation in zip(self.port_names, reservations, strict=True)}
                source = f"{PEER_SOURCES}.{index}" if self.shared_peer_links else LOOPBACK
                self.nodes[name] = ClusterNode(name, ports, base, reservations=reservations, source=source)
            self._create_links()
            for node in self.nodes.values():
                self.configure(node)
            self.start_nodes()
            self.wait_until_healthy(self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        self.timeline.reset()
        return self

    def _create_links(self) -> None:
        assert self._proxies is not None
        specs = [(CLIENT, target, port) for port in self.client_ports or self.port_names[:1] for target in self.names]
        if self.shared_peer_links:
            specs += [(PEERS, target, port) for port in self.peer_ports for target in self.names]
        else:
            pairs = [(source, target) for source in self.names for target in self.names if source != target]
            specs += [(source, target, port) for port in self.peer_ports for source, target in pairs]
        created = self._proxies.populate(
            {"name": f"{source}->{target}:{port}", "upstream": f"{LOOPBACK}:{self.nodes[target].ports[port]}", "listen": f"{LOOPBACK}:0"}
            for source, target, port in specs
        )
        by_name = {proxy.name: proxy for proxy in created}
        for source, target, port in specs:
            self.links[(source, target, port)] = Link(source, target, port, by_name[f"{source}->{target}:{port}"])

    def _start_node(self, node: ClusterNode) -> None:
        """Bring `node` up at the cluster's start (a kind may do more than launch it then)."""
        self._launch(node)

    def node_processes(self, node: ClusterNode) -> list[NodeProcess]:
        """The node's processes, made by the runner at its first launch and kept: a restart starts
        the same ones again (a container keeps its identity, and nothing is left of the first)."""
        if not node.processes:
            node.processes = [self.runner.process(program) for program in self.node_programs(node)]
        return node.processes

    def _launch(self, node: ClusterNode) -> None:
        for process in self.node_processes(node):
            process.start()
        node.state = "running"

    def stop(self) -> None:
        """End every node (paused or not) and the proxies, remove the directories, give the ports
        back; what cannot be ended is reported after everything else is released."""
        try:
            each_node(self.nodes.values(), _stop_node, "stop")
        finally:
            self._release()

    def _release(self) -> None:
        for node in self.nodes.values():
            for reservation in node.reservations:
                reservation.close()
        for held in self._held_ports.values():
            held.close()
        self._held_ports = {}
        self._cut = set()
        self.nodes = {}
        self.links = {}
        if self._proxies is not None:
            self._proxies.close()
            self._proxies = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._base is not None:
            remove_private_dir(self._base)
            self._base = None

    def wait_until_healthy(self, timeout: float = 30.0) -> float:
        """Block until `health_problem` says none; returns the seconds it took."""
        began = time.monotonic()
        deadline = began + timeout
        while (problem := self._health_problem()) is not None:
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the {self.kind} cluster was not healthy within {timeout} s: {problem}\n"
                    f"node files are in {self._base}; output: {self._outputs()}\ntimeline:\n{self.timeline.render()}"
                )
            time.sleep(HEALTH_POLL)
        return time.monotonic() - began

    def _outputs(self) -> str:
        return "; ".join(f"{node.name}: {', '.join(process.output for process in node.processes)}" for node in self.nodes.values())

    def _health_problem(self) -> str | None:
        try:
            return self.health_problem()
        except Exception as error:  # a probe that fails means "not yet"
            return f"{type(error).__name__}: {error}"

    # -- addresses -------------------------------------------------------------------------------

    def node(self, name: str) -> ClusterNode:
        """The node called `name`; a usage error lists the names."""
        try:
            return self.nodes[name]
        except KeyError:
            raise IpcUsageError(f"no node {name!r} in the {self.kind} cluster; its nodes are {', '.join(self.names)}") from None

    def route(self, source: str, target: str, port: str) -> int:
        """The proxy port on which `source` (a node, or "client") reaches `target`'s `port`."""
        if self.shared_peer_links and source != CLIENT:
            source = PEERS
        return self.links[(source, target, port)].listen_port

    def client_port(self, name: str, port: str | None = None) -> int:
        """The proxy port on which clients reach node `name` (its client port by default)."""
        return self.route(CLIENT, name, port or (self.client_ports or self.port_names)[0])

    def client_addresses(self) -> list[tuple[str, int]]:
        """Where clients connect, one address per node (through the node's client proxy)."""
        return [(LOOPBACK, self.client_port(name)) for name in self.names]

    def node_at(self, port: int) -> str | None:
        """The node behind the proxy that listens on `port` (to name the node a client is connected to)."""
        for link in self.links.values():
            if link.listen_port == port:
                return link.target
        return None

    # -- faults ----------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL node `name` (every process of it): a crash."""
        node = self.node(name)
        with self._lock:
            self.timeline.record(CLUSTER, f"kill {name}", kind="kill", node=name, out=frozenset({name}))
            for process in reversed(node.processes):
                process.kill()
            node.state = "killed"

    def restart(self, name: str) -> None:
        """Start a killed node again, on its ports, with its data; returns once it serves."""
        node = self.node(name)
        with self._lock:
            if node.state == "paused":
                self.resume(name)
            if node.state == "running":
                return
            self._launch(node)
            self.timeline.record(CLUSTER, f"restarted {name}", kind="restart", node=name)

    def pause(self, name: str) -> None:
        """Freeze node `name` (SIGSTOP; a container's cgroup freezer): it holds its connections but
        answers nothing (a hung node)."""
        node = self.node(name)
        with self._lock:
            if node.state != "running":
                raise IpcUsageError(f"cannot pause {name}: it is {node.state}")
            for process in node.processes:
                process.pause()
            node.state = "paused"
            how = self.runner.pause_method
            self.timeline.record(CLUSTER, f"pause {name} ({how})", kind="pause", node=name, out=frozenset({name}))

    def resume(self, name: str) -> None:
        """Let a paused node run again (SIGCONT; the freezer thawed)."""
        node = self.node(name)
        with self._lock:
            if node.state == "paused":
                for process in node.processes:
                    process.resume()
                node.state = "running"
                self.timeline.record(CLUSTER, f"resume {name}", kind="resume", node=name)

    def _sides(self, sides: Sequence[Iterable[str]]) -> list[set[str]]:
        parsed = [set(side) for side in sides]
        known = {*self.names, CLIENT_SIDE}
        for side in parsed:
            if unknown := side - known:
                raise IpcUsageError(
                    f"unknown member(s) {sorted(unknown)} in a partition side; valid: {', '.join(self.names)} and {CLIENT_SIDE!r}"
                )
        named = set().union(*parsed) if parsed else set()
        if len(parsed) == 1:  # partition(["n1"]): n1 on one side, every other node on the other
            parsed.append(set(self.names) - named)
        else:
            parsed[-1] |= set(self.names) - named
        return [side for side in parsed if side]

    def partition(self, *sides: Iterable[str], mode: PartitionMode = "refuse") -> None:
        """Cut every link between nodes on different sides (nodes not named join the last side).

        A side may hold ``"client"``: the client then reaches only that side's nodes (otherwise it
        reaches all). `mode` ``"refuse"`` resets live connections and refuses new ones (a host that
        is down or firewalled with reject); ``"blackhole"`` keeps them open and drops every byte
        (a cable pulled: peers notice only by their heartbeats timing out).
        """
        if mode not in PARTITION_MODES:
            raise IpcUsageError(f"unknown partition mode {mode!r}; valid: {', '.join(PARTITION_MODES)}")
        parsed = self._sides(sides)
        side_of = {member: index for index, side in enumerate(parsed) for member in side}
        majority = max((side - {CLIENT_SIDE} for side in parsed), key=len)
        out = frozenset(set(self.names) - majority)

        def crosses(source: str, target: str) -> bool:
            return source in side_of and side_of[source] != side_of[target]

        with self._lock:
            cut = [key for key in self.links if crosses(key[0], key[1])]
            # a shared proxy (source PEERS) is cut for the nodes across: (node, target, port), by source
            shared = [(target, port) for (by, target, port) in self.links if by == PEERS]
            cut += [(name, target, port) for target, port in shared for name in self.names if crosses(name, target)]
            for key in cut:
                if key not in self._cut:
                    self._cut_link(key, mode)
                    self._cut.add(key)
            shown = " | ".join("{" + ", ".join(sorted(side)) + "}" for side in parsed)
            self.timeline.record(CLUSTER, f"partition {shown} ({mode}, {len(cut)} link(s) cut)", kind="partition", out=out)

    def _cut_link(self, key: tuple[str, str, str], mode: PartitionMode) -> None:
        """Cut the link `key` (source, target, port): its own proxy, or its source on a shared one."""
        if key not in self.links:
            proxy, address = self._shared_proxy(key)
            self._engine().loop_thread.run(proxy.cut_source(address, mode))
            return
        link_proxy = self.links[key].proxy
        if mode == "refuse":
            link_proxy.disable()
            held = _hold_port(link_proxy.host, link_proxy.port)
            if held is not None:
                self._held_ports[key] = held
        else:
            link_proxy.timeout(0, stream="upstream", name=f"{BLACKHOLE}-up")
            link_proxy.timeout(0, stream="downstream", name=f"{BLACKHOLE}-down")

    def _mend_link(self, key: tuple[str, str, str]) -> None:
        """Undo `_cut_link(key, ...)`, whichever mode cut it."""
        if key not in self.links:
            proxy, address = self._shared_proxy(key)
            self._engine().loop_thread.run(proxy.mend_source(address))
            return
        link_proxy = self.links[key].proxy
        link_proxy.enable()  # binds next to the held port (both SO_REUSEADDR; the hold never listens)
        held = self._held_ports.pop(key, None)
        if held is not None:
            held.close()
        for name in (f"{BLACKHOLE}-up", f"{BLACKHOLE}-down"):
            with contextlib.suppress(Exception):
                link_proxy.remove_toxic(name)

    def _shared_proxy(self, key: tuple[str, str, str]) -> tuple[TcpProxy, str]:
        """The engine's proxy that node `key[0]` shares with its peers into `key[1]`'s `key[2]` port,
        and the address that node dials from."""
        source, target, port = key
        return self._engine().proxy(self.links[(PEERS, target, port)].proxy.name), self.nodes[source].source

    def _engine(self) -> EmbeddedToxiproxy:
        if self._server is None:
            raise ClusterError(f"the {self.kind} cluster is not running")
        return self._server

    def isolate(self, name: str, mode: PartitionMode = "refuse") -> None:
        """Partition node `name` from every other node (the client stays with the others)."""
        self.partition([name], mode=mode)

    def slow_replication(self, latency: float, jitter: float = 0.0) -> None:
        """Add `latency` (+- `jitter`) seconds to every inter-node link, both directions."""
        with self._lock:
            for (source, _target, _port), link in self.links.items():
                if source != CLIENT:
                    link.proxy.latency(latency, jitter, stream="upstream", name=f"{SLOW}-up")
                    link.proxy.latency(latency, jitter, stream="downstream", name=f"{SLOW}-down")
            self._slow = True
            self.timeline.record(CLUSTER, f"slow replication: +{latency:g} s per hop", kind="slow")

    def heal(self) -> None:
        """Every link up and without toxics; paused nodes resumed, killed nodes restarted."""
        with self._lock:
            for key in list(self._cut):
                self._mend_link(key)
            healed_links = len(self._cut)
            self._cut.clear()
            if self._slow:
                for link in self.links.values():
                    if link.source != CLIENT:
                        for name in (f"{SLOW}-up", f"{SLOW}-down"):
                            with contextlib.suppress(Exception):
                                link.proxy.remove_toxic(name)
                self._slow = False
            if healed_links:
                self.timeline.record(CLUSTER, f"heal: {healed_links} link(s) up", kind="heal")
            for name, node in self.nodes.items():
                if node.state == "paused":
                    self.resume(name)
                elif node.state == "killed":
                    self.restart(name)

    def converge(self) -> None:
        """Between tests, after healing: hurry what the cluster would do by itself (a kind may override)."""
        return None

    def reset(self, timeout: float = 60.0) -> None:
        """Between tests: heal, wait until healthy, start a fresh timeline."""
        self.settle(timeout)
        self.timeline.reset()

    def settle(self, timeout: float = 60.0) -> float:
        """Heal, hurry the cluster's own repairs (`converge`) and wait until healthy; returns the seconds."""
        began = time.monotonic()
        self.heal()
        deadline = time.monotonic() + timeout
        while self._health_problem() is not None and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                self.converge()
            time.sleep(HEALTH_POLL * 4)
        self.wait_until_healthy(max(0.0, deadline - time.monotonic()))
        took = time.monotonic() - began
        self.timeline.record(CLUSTER, f"healthy again after {took:.2f} s", kind="healthy")
        return took

    # -- what the verdicts need ------------------------------------------------------------------

    def unreachable_since_last_fault(self) -> tuple[float, set[str]] | None:
        """When the last fault began and which nodes it left out of the serving majority."""
        faults = self.timeline.of_kind("kill", "pause", "partition")
        if not faults:
            return None
        return faults[-1].at, set(faults[-1].out)

    @contextlib.contextmanager
    def fault(self, apply: Callable[[], None]) -> Iterator[None]:
        """Apply a fault for the block and heal after it, whatever the block raises."""
        apply()
        try:
            yield
        finally:
            self.heal()

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={node.state}" for name, node in self.nodes.items())
        return f"{type(self).__name__}({states}, runner={self.runner.name})"


def each_node(nodes: Iterable[ClusterNode], action: Callable[[ClusterNode], None], what: str) -> None:
    """`action` on every node at once, each in a thread; the first error is raised once all have ended."""
    errors: list[BaseException] = []

    def run(node: ClusterNode) -> None:
        try:
            action(node)
        except BaseException as error:  # reported below, after every thread has ended
            errors.append(error)

    threads = [threading.Thread(target=run, args=(node,), name=f"{what}-{node.name}") for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _stop_node(node: ClusterNode) -> None:
    """End every process of `node`, the last started first; each is tried even if another fails."""
    errors = []
    for process in reversed(node.processes):
        try:
            process.stop()
        except Exception as error:  # the others still go; the first is reported
            errors.append(error)
    if errors:
        raise errors[0]


def states(cluster: Cluster, names: Collection[str] | None = None) -> dict[str, NodeState]:
    """Each node's state, for messages."""
    return {name: node.state for name, node in cluster.nodes.items() if names is None or name in names}


def _missing_peer_source(size: int) -> str | None:
    """None when this machine's loopback has the nodes' source addresses (Linux: all of 127.0.0.0/8)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((f"{PEER_SOURCES}.1", 0))
    except OSError as error:
        return (
            f"the nodes dial from their own loopback addresses ({PEER_SOURCES}.1-{size}), which this machine lacks "
            f"({error.strerror}); Linux has all of 127.0.0.0/8, macOS needs them added: sudo ifconfig lo0 alias {PEER_SOURCES}.1 up"
        )
    finally:
        probe.close()
    return None


def _hold_port(host: str, port: int) -> socket.socket | None:
    """Keep a refused link's port while its listener is closed: a socket bound to it (SO_REUSEADDR,
    never listening) takes it out of the kernel's choice of local ports for outgoing connections, so a
    client reconnecting during the partition cannot get it and make the heal fail with "address in
    use". None if the port went to another socket first."""
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        hold.bind((host, port))
    except OSError:
        hold.close()
        return None
    return hold
