"""The cluster controls' async forms (`pytest_ipc.cluster.aio`) on the NATS cluster: a heartbeat task
on the loop keeps ticking through a partition, a failed health wait, a settle, a kill and a restart;
the same heartbeat stalls behind the blocking form, so the measure would catch a control that
blocks. Run under anyio's plugin and under pytest-asyncio."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from pytest_ipc.cluster import aio
from pytest_ipc.cluster.core import ClusterError
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.nats import NatsCluster

pytestmark = pytest.mark.slow

#: The longest the loop may go without a tick while a control runs off it.
STALL = 0.3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def heartbeat() -> AsyncIterator[Callable[[], float]]:
    """Tick every 10 ms on the loop; yields a function that gives the longest gap between ticks."""
    ticks: list[float] = [time.monotonic()]

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks.append(time.monotonic())

    ticker = asyncio.create_task(tick())
    try:
        yield lambda: max(later - earlier for earlier, later in itertools.pairwise([*ticks, time.monotonic()]))
    finally:
        ticker.cancel()


async def _partition_fail_and_settle(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    node = nats_cluster.names[-1]
    async with heartbeat() as longest_gap:
        assert await aio.leader(nats_cluster) in nats_cluster.names
        await aio.isolate(nats_cluster, node)
        await asyncio.sleep(0.2)  # the nodes notice their routes are gone
        began = time.monotonic()
        with pytest.raises(ClusterError, match=r"not healthy within 1\.0 s: n\d has \d route"):
            await aio.wait_until_healthy(nats_cluster, 1.0)
        waited = time.monotonic() - began
        took = await aio.settle(nats_cluster)
        gap = longest_gap()
    assert waited >= 1.0
    assert gap < STALL, f"the loop stalled for {gap:.2f} s during {waited:.1f} s of health waits and a {took:.2f} s settle"
    kinds = [event.kind for event in nats_cluster.timeline.events]
    assert kinds[:3] == ["partition", "heal", "healthy"], nats_cluster.timeline.render()


@pytest.mark.anyio
async def test_partition_and_settle_do_not_block_the_loop(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    await _partition_fail_and_settle(nats_cluster)


@pytest.mark.asyncio
async def test_under_pytest_asyncio(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    await _partition_fail_and_settle(nats_cluster)


@pytest.mark.anyio
async def test_the_heartbeat_catches_a_blocking_control(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    """The broken way: the blocking form called from the loop stalls it for the whole wait."""
    await aio.isolate(nats_cluster, nats_cluster.names[-1])
    async with heartbeat() as longest_gap:
        await asyncio.sleep(0.2)
        with pytest.raises(ClusterError):
            nats_cluster.wait_until_healthy(0.5)
        gap = longest_gap()
    await aio.settle(nats_cluster)
    assert gap >= 0.5 > STALL, f"the blocking form left the loop ticking (longest gap {gap:.2f} s): the measure proves nothing"


@pytest.mark.anyio
async def test_kill_restart_pause_and_slow_links(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    node = nats_cluster.names[0]
    steps: list[Callable[[], Awaitable[object]]] = [
        lambda: aio.slow_replication(nats_cluster, 0.02),
        lambda: aio.kill(nats_cluster, node),
        lambda: aio.restart(nats_cluster, node),
        lambda: aio.pause(nats_cluster, node),
        lambda: aio.resume(nats_cluster, node),
        lambda: aio.partition(nats_cluster, [node], ["client"], mode="blackhole"),
        lambda: aio.heal(nats_cluster),
        lambda: aio.wait_until_healthy(nats_cluster),
    ]
    async with heartbeat() as longest_gap:
        for step in steps:
            await step()
        gap = longest_gap()
    assert gap < STALL, f"the loop stalled for {gap:.2f} s"
    kinds = [event.kind for event in nats_cluster.timeline.events]
    assert kinds == ["slow", "kill", "restart", "pause", "resume", "partition", "heal"], nats_cluster.timeline.render()


@pytest.mark.anyio
async def test_a_cancelled_fault_block_still_heals(nats_cluster: IsolatedCluster[NatsCluster]) -> None:
    node = nats_cluster.names[1]

    async def hold_the_fault() -> None:
        async with aio.fault(nats_cluster, lambda: nats_cluster.kill(node)):
            await asyncio.sleep(60)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hold_the_fault(), 0.3)
    assert nats_cluster.cluster.node(node).state == "running"
    assert [event.kind for event in nats_cluster.timeline.events] == ["kill", "restart"], nats_cluster.timeline.render()
    await aio.wait_until_healthy(nats_cluster)
