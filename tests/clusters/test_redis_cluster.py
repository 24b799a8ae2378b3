"""Redis with a primary, two replicas and three Sentinels, every link through the fault proxy.

As for NATS, a correct client runs next to the broken ones under the same fault.
"""

from __future__ import annotations

import time

import pytest

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.cluster.assertions import assert_cluster_client, assert_failover_within, assert_no_confirmed_loss
from pytest_ipc.cluster.core import CLIENT_SIDE
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.redis import RedisCluster
from tests.clusters.redis_clients import (
    FAILOVER_BUDGET,
    fail_over,
    primary_kill,
    received_keys,
    wait_for_new_primary,
)

pytestmark = pytest.mark.slow


def test_primary_kill(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """SIGKILL the primary (server and Sentinel): the correct client follows Sentinel to the new primary."""
    primary_kill(redis_cluster)


def test_minority_partition(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """The primary is cut off from its replicas, the Sentinels and the client: a replica is promoted
    and the correct client moves to it."""
    correct, fixed = fail_over(redis_cluster, lambda primary: redis_cluster.partition([primary], [CLIENT_SIDE]), "partition")
    redis_cluster.heal()
    received = received_keys(redis_cluster)

    assert_cluster_client(correct, received, failover_budget=FAILOVER_BUDGET)
    with pytest.raises(IpcAssertionError, match=r"never connected to a surviving node(.|\n)*partition \{n\d\} \| \{client"):
        assert_failover_within(fixed, FAILOVER_BUDGET)


def test_majority_partition(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """The client is left with the old primary while the majority promotes a replica: writes the old
    primary said OK to are lost when it rejoins as a replica; only replica-acknowledged ones count."""

    def partition_until_promoted_then_heal(primary: str) -> None:
        redis_cluster.partition([primary, CLIENT_SIDE])
        wait_for_new_primary(redis_cluster.cluster, primary)
        redis_cluster.heal()

    correct, trusting = fail_over(redis_cluster, partition_until_promoted_then_heal, "heal", broken="no-replica-ack")
    redis_cluster.cluster.settle()  # the old primary rejoins as a replica: what it alone had is gone
    received = received_keys(redis_cluster)

    assert correct.outcomes("refused"), "the old primary's side refused nothing: the partition did not bite"
    assert_cluster_client(correct, received)
    with pytest.raises(IpcAssertionError, match=r"confirmed publish\(es\) to be delivered; \d+ lost(.|\n)*WAIT(.|\n)*partition"):
        assert_no_confirmed_loss(trusting, received)


def test_a_partition_cuts_both_ways_so_the_side_cut_off_keeps_its_primary(redis_cluster: IsolatedCluster[RedisCluster]) -> None:
    """Peers share each node's proxy, told apart by the address they dial from: the node cut off
    reaches nobody either, so its Sentinel hears nothing of the majority's new primary and the old
    one stays primary on its side until the heal, a split brain as in a real partition."""
    cluster = redis_cluster.cluster
    old = cluster.leader()
    assert old is not None
    redis_cluster.partition([old])
    new = wait_for_new_primary(cluster, old)
    until = time.monotonic() + 4.0  # two rounds of Sentinel hellos (every 2 s) would have told it
    while time.monotonic() < until:
        host_port = cluster.direct(old, "sentinel").sentinel_get_master_addr_by_name(cluster.master_name)
        assert cluster.node_at(int(host_port[1])) == old, f"the Sentinel cut off learned of {new} through the partition"
        assert cluster.direct(old).info("replication")["role"] == "master", "the primary cut off was demoted through the partition"
        time.sleep(0.2)
    cluster.settle()
    assert cluster.leader() == new and cluster.direct(old).info("replication")["role"] == "slave"
