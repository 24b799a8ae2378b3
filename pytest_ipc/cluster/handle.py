"""One test's view of a session cluster: a namespace of its own, the fault controls, client journals.

The cluster is started once per session (per xdist worker); before each test it is healed and found
healthy, its timeline starts afresh, and what the test made under its namespace is removed after.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Generic, TypeVar

from pytest_ipc.cluster.assertions import ClientJournal
from pytest_ipc.cluster.core import Cluster, PartitionMode
from pytest_ipc.cluster.timeline import CLIENT, Timeline

C = TypeVar("C", bound=Cluster)


class IsolatedCluster(Generic[C]):
    """The session's cluster seen by one test: ``name()`` scopes names, faults go to the cluster."""

    def __init__(self, cluster: C, namespace: str | None = None) -> None:
        self.cluster = cluster
        self.namespace = namespace or f"ipc{secrets.token_hex(4)}"
        self._journals: dict[str, ClientJournal] = {}

    def open(self) -> IsolatedCluster[C]:
        """Heal whatever an earlier test left broken and start this test's timeline."""
        self.cluster.reset()
        return self

    def reset(self) -> None:
        """Start another scenario within the test: healed, healthy, a fresh timeline and fresh journals."""
        self.cluster.reset()
        self._journals.clear()

    def close(self) -> None:
        """Heal and remove what the test made under its namespace."""
        self.cluster.reset(self.cluster.ready_timeout)
        self.cluster.cleanup(self.namespace)

    def name(self, local: str) -> str:
        """`local` inside this test's namespace (a stream, key or queue name)."""
        separator = ":" if self.cluster.kind == "redis" else "_" if self.cluster.kind == "nats" else "."
        return f"{self.namespace}{separator}{local}"

    def journal(self, client: str = CLIENT) -> ClientJournal:
        """The journal in which client `client` reports what it saw (one per client name)."""
        if client not in self._journals:
            self._journals[client] = ClientJournal(self.cluster, client)
        return self._journals[client]

    @property
    def timeline(self) -> Timeline:
        return self.cluster.timeline

    @property
    def names(self) -> tuple[str, ...]:
        """The node names: ``n1``, ``n2``, ..."""
        return self.cluster.names

    def leader(self) -> str | None:
        """The node that leads the cluster now."""
        return self.cluster.leader()

    def kill(self, node: str) -> None:
        """SIGKILL `node`; `heal()` (or the end of the test) restarts it."""
        self.cluster.kill(node)

    def pause(self, node: str) -> None:
        """Freeze `node`: SIGSTOP (in containers, the cgroup freezer)."""
        self.cluster.pause(node)

    def resume(self, node: str) -> None:
        """Let a paused `node` run again."""
        self.cluster.resume(node)

    def restart(self, node: str) -> None:
        """Start a killed `node` again."""
        self.cluster.restart(node)

    def partition(self, *sides: Iterable[str], mode: PartitionMode = "refuse") -> None:
        """Cut every link between the sides (see `Cluster.partition`)."""
        self.cluster.partition(*sides, mode=mode)

    def isolate(self, node: str, mode: PartitionMode = "refuse") -> None:
        """Partition `node` from the other nodes."""
        self.cluster.isolate(node, mode=mode)

    def slow_replication(self, latency: float, jitter: float = 0.0) -> None:
        """Latency on every inter-node link."""
        self.cluster.slow_replication(latency, jitter)

    def heal(self) -> None:
        """Links up, nodes running."""
        self.cluster.heal()

    def settle(self, timeout: float = 60.0) -> float:
        """Heal, hurry the cluster's repairs and wait until healthy; returns the seconds it took."""
        return self.cluster.settle(timeout)

    def wait_until_healthy(self, timeout: float = 30.0) -> float:
        """Block until the cluster is formed and serving again; returns the seconds it took."""
        return self.cluster.wait_until_healthy(timeout)

    def __repr__(self) -> str:
        return f"IsolatedCluster({self.cluster!r}, namespace={self.namespace!r})"
