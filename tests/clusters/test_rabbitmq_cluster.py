"""Three RabbitMQ nodes with a quorum queue, Erlang distribution through the fault proxy.

Each scenario (`tests.clusters.rabbitmq_clients`) runs a correct publisher (publisher confirms, every
node's address, reconnect) next to broken ones under the same fault: one address and no reconnect,
and fire and forget (no confirms); the leader kill also has a consumer whose acknowledgements die
with the node, processed by an idempotent handler and by one that is not.
"""

from __future__ import annotations

import pytest

from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.rabbitmq import RabbitMQCluster
from tests.clusters.rabbitmq_clients import majority_partition, minority_partition, queue_leader_kill

pytestmark = pytest.mark.slow


def test_leader_kill_minority_and_majority_partitions(rabbitmq_cluster: IsolatedCluster[RabbitMQCluster]) -> None:
    """The three scenarios in one test, broken clients beside the correct one in each: three RabbitMQ
    nodes take some 30 s to start, and under pytest-xdist each worker that gets a test of this
    cluster starts one."""
    queue_leader_kill(rabbitmq_cluster)
    minority_partition(rabbitmq_cluster)
    majority_partition(rabbitmq_cluster)
