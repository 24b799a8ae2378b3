"""Redis with a primary, two replicas and three Sentinels, every link through the fault proxy.

As for NATS, a correct client runs next to the broken ones under the same fault.
"""

from __future__ import annotations

import time

import pytest

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.cluster.assertions import ClientJournal, assert_cluster_client, assert_failover_within, assert_no_confirmed_loss
from pytest_ipc.cluster.core import CLIENT_SIDE
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.redis import RedisCluster
from tests.clusters.redis_clients import Writer

pytestmark = pytest.mark.slow

FAILOVER_BUDGET = 6.0
FAILOVER_TIMEOUT = 20.0


def _wait_for_new_primary(cluster: RedisCluster, old: str) -> str:
    deadline = time.monotonic() + FAILOVER_TIMEOUT
    while time.monotonic() < deadline:
        primary = cluster.leader()
        if primary is not None and primary != old:
            return primary
        time.sleep(0.05)
    raise AssertionError(f"the Sentinels promoted no replica within {FAILOVER_TIMEOUT} s\n{cluster.timeline.render()}")


def _wait_for_confirmed(journal: ClientJournal, after: float, timeout: float = FAILOVER_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not any(publish.at > after and publish.outcome == "confirmed" for publish in list(journal.publishes)):
        if time.monotonic() > deadline:
            raise journal.failure([f"no write confirmed within {timeout} s after {after:.3f} s"])
        time.sleep(0.05)


def _received(handle: IsolatedCluster[RedisCluster]) -> list[str]:
    return list(handle.cluster.primary_keys(f"{handle.namespace}:*").values())


def test_primary_kill(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """SIGKILL the primary (server and Sentinel): the correct client follows Sentinel to the new primary."""
    cluster = redis_cluster.cluster
    primary = cluster.leader()
    assert primary is not None
    correct, fixed = redis_cluster.journal("correct"), redis_cluster.journal("no-reconnect")
    writers = [
        Writer(cluster, correct, redis_cluster.namespace, "ok", sentinel=True, wait=True).start(),
        Writer(cluster, fixed, redis_cluster.namespace, "fixed", sentinel=False, wait=True).start(),
    ]
    try:
        time.sleep(0.3)
        redis_cluster.kill(primary)
        _wait_for_new_primary(cluster, primary)
        _wait_for_confirmed(correct, redis_cluster.timeline.of_kind("kill")[-1].at)
        time.sleep(0.3)
    finally:
        for writer in writers:
            writer.stop()
    received = _received(redis_cluster)

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"reconnect to a surviving node \(n\d, n\d\)(.|\n)*never connected(.|\n)*Sentinel"):
        assert_failover_within(fixed, FAILOVER_BUDGET)


def test_minority_partition(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """The primary is cut off from its replicas, the Sentinels and the client: a replica is promoted
    and the correct client moves to it."""
    cluster = redis_cluster.cluster
    primary = cluster.leader()
    assert primary is not None
    correct, fixed = redis_cluster.journal("correct"), redis_cluster.journal("no-reconnect")
    writers = [
        Writer(cluster, correct, redis_cluster.namespace, "ok", sentinel=True, wait=True).start(),
        Writer(cluster, fixed, redis_cluster.namespace, "fixed", sentinel=False, wait=True).start(),
    ]
    try:
        time.sleep(0.3)
        redis_cluster.partition([primary], [CLIENT_SIDE])
        _wait_for_new_primary(cluster, primary)
        _wait_for_confirmed(correct, redis_cluster.timeline.of_kind("partition")[-1].at)
        time.sleep(0.3)
    finally:
        for writer in writers:
            writer.stop()
    redis_cluster.heal()
    received = _received(redis_cluster)

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"never connected to a surviving node(.|\n)*partition \{n\d\} \| \{client"):
        assert_failover_within(fixed, FAILOVER_BUDGET)


def test_majority_partition(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """The client is left with the old primary while the majority promotes a replica: writes the old
    primary said OK to are lost when it rejoins as a replica; only replica-acknowledged ones count."""
    cluster = redis_cluster.cluster
    primary = cluster.leader()
    assert primary is not None
    correct, trusting = redis_cluster.journal("correct"), redis_cluster.journal("no-replica-ack")
    writers = [
        Writer(cluster, correct, redis_cluster.namespace, "ok", sentinel=True, wait=True).start(),
        Writer(cluster, trusting, redis_cluster.namespace, "trusting", sentinel=True, wait=False).start(),
    ]
    try:
        time.sleep(0.3)
        redis_cluster.partition([primary, CLIENT_SIDE])
        _wait_for_new_primary(cluster, primary)
        redis_cluster.heal()
        _wait_for_confirmed(correct, redis_cluster.timeline.of_kind("heal")[-1].at)
        time.sleep(0.3)
    finally:
        for writer in writers:
            writer.stop()
    redis_cluster.cluster.settle()  # the old primary rejoins as a replica: what it alone had is gone
    received = _received(redis_cluster)

    assert correct.outcomes("refused"), "the old primary's side refused nothing: the partition did not bite"
    assert_cluster_client(correct, received)
    with pytest.raises(IpcAssertionError, match=r"confirmed publish\(es\) to be delivered; \d+ lost(.|\n)*WAIT(.|\n)*partition"):
        assert_no_confirmed_loss(trusting, received)
