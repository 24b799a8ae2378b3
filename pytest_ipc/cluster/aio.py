"""The async forms of the cluster controls: the same names, awaited from an async test.

    from pytest_ipc.cluster import aio

    async def test_survives_a_partition(nats_cluster):
        leader = await aio.leader(nats_cluster)
        await aio.isolate(nats_cluster, leader)
        ...  # the test's own async clients keep running on the loop meanwhile
        await aio.settle(nats_cluster)

A control calls the fault proxy's API, sends signals, restarts a node or polls the cluster's health
(seconds, for a restart or a settle), so each runs in a worker thread (anyio's, as
`BrokerServer.aio` does): the event loop keeps serving the test's clients, which must notice the
fault and fail over while it happens. Each takes the test's `IsolatedCluster` (or a `Cluster`).
Works under pytest-asyncio and anyio. A cancelled caller still waits for the control under way, and
`fault` heals even when its block is cancelled.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_ipc.brokers.server import _shielded, _to_thread
from pytest_ipc.cluster.core import Cluster

if TYPE_CHECKING:
    from pytest_ipc.cluster.core import PartitionMode
    from pytest_ipc.cluster.handle import IsolatedCluster
    from pytest_ipc.cluster.nats import NatsCluster
    from pytest_ipc.cluster.rabbitmq import RabbitMQCluster

__all__ = [
    "fault",
    "heal",
    "isolate",
    "kill",
    "leader",
    "partition",
    "pause",
    "queue_leader",
    "restart",
    "resume",
    "settle",
    "slow_replication",
    "stream_leader",
    "wait_until_healthy",
]

T = TypeVar("T")
C = TypeVar("C", bound=Cluster)


def _of(cluster: IsolatedCluster[C] | C) -> C:
    return cluster if isinstance(cluster, Cluster) else cluster.cluster


async def kill(cluster: IsolatedCluster[Any] | Cluster, node: str) -> None:
    """Async form of `Cluster.kill`: SIGKILL `node`."""
    await _to_thread(functools.partial(_of(cluster).kill, node))


async def restart(cluster: IsolatedCluster[Any] | Cluster, node: str) -> None:
    """Async form of `Cluster.restart`: start a killed `node` again; returns once it serves."""
    await _to_thread(functools.partial(_of(cluster).restart, node))


async def pause(cluster: IsolatedCluster[Any] | Cluster, node: str) -> None:
    """Async form of `Cluster.pause`: freeze `node` (SIGSTOP; in containers, the cgroup freezer)."""
    await _to_thread(functools.partial(_of(cluster).pause, node))


async def resume(cluster: IsolatedCluster[Any] | Cluster, node: str) -> None:
    """Async form of `Cluster.resume`: let a paused `node` run again."""
    await _to_thread(functools.partial(_of(cluster).resume, node))


async def partition(cluster: IsolatedCluster[Any] | Cluster, *sides: Iterable[str], mode: PartitionMode = "refuse") -> None:
    """Async form of `Cluster.partition`: cut every link between the sides."""
    frozen = [tuple(side) for side in sides]  # read the sides on the loop, not in the worker thread
    await _to_thread(functools.partial(_of(cluster).partition, *frozen, mode=mode))


async def isolate(cluster: IsolatedCluster[Any] | Cluster, node: str, mode: PartitionMode = "refuse") -> None:
    """Async form of `Cluster.isolate`: partition `node` from every other node."""
    await _to_thread(functools.partial(_of(cluster).isolate, node, mode=mode))


async def slow_replication(cluster: IsolatedCluster[Any] | Cluster, latency: float, jitter: float = 0.0) -> None:
    """Async form of `Cluster.slow_replication`: latency on every inter-node link until `heal`."""
    await _to_thread(functools.partial(_of(cluster).slow_replication, latency, jitter))


async def heal(cluster: IsolatedCluster[Any] | Cluster) -> None:
    """Async form of `Cluster.heal`: every link up, paused nodes resumed, killed nodes restarted."""
    await _to_thread(_of(cluster).heal)


async def settle(cluster: IsolatedCluster[Any] | Cluster, timeout: float = 60.0) -> float:
    """Async form of `Cluster.settle`: heal and wait until healthy; returns the seconds it took."""
    return await _to_thread(functools.partial(_of(cluster).settle, timeout))


async def wait_until_healthy(cluster: IsolatedCluster[Any] | Cluster, timeout: float = 30.0) -> float:
    """Async form of `Cluster.wait_until_healthy`; returns the seconds it took."""
    return await _to_thread(functools.partial(_of(cluster).wait_until_healthy, timeout))


async def leader(cluster: IsolatedCluster[Any] | Cluster) -> str | None:
    """Async form of `Cluster.leader`: the node that leads the cluster now (None while none does)."""
    return await _to_thread(_of(cluster).leader)


async def stream_leader(
    cluster: IsolatedCluster[NatsCluster] | NatsCluster, stream: str, *, asking: Iterable[str] | None = None
) -> str | None:
    """Async form of `NatsCluster.stream_leader`: the node leading `stream`'s replicas."""
    asked = None if asking is None else tuple(asking)
    return await _to_thread(functools.partial(_of(cluster).stream_leader, stream, asking=asked))


async def queue_leader(cluster: IsolatedCluster[RabbitMQCluster] | RabbitMQCluster, queue: str, vhost: str = "/") -> str | None:
    """Async form of `RabbitMQCluster.queue_leader`: the node leading quorum queue `queue`."""
    return await _to_thread(functools.partial(_of(cluster).queue_leader, queue, vhost))


@asynccontextmanager
async def fault(cluster: IsolatedCluster[Any] | Cluster, apply: Callable[[], object]) -> AsyncIterator[None]:
    """Async form of `Cluster.fault`: apply a fault (a blocking control, run off the loop) for the
    block and heal after it, whatever the block raises, also when it is cancelled."""
    await _to_thread(apply)
    try:
        yield
    finally:
        with _shielded():
            await heal(cluster)
