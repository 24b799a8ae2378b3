"""Clustered brokers' costs and failover figures, per broker, in one run.

    python benchmarks/bench_clusters.py [--kinds nats,redis,rabbitmq] [--rounds N] [--backend local|container]

`--backend` is where the nodes run: local processes (default), or containers of the broker's image
(``PYTEST_IPC_<KIND>_IMAGE``, else the public one) in the host's network namespace. For each kind: the
start of one private node on the same backend (the baseline, measured in the same run) and of the
three-node cluster with every link through the fault proxy, in N alternating pairs (the medians
and the median of the pairs' ratios: a boot is CPU-bound, so another job on the two cores moves
single figures by a third); the time until the majority detects a
partition of the leader, until it elects a new leader, and until the cluster is healthy again after
healing; and the failover a client sees: from SIGKILL of the leader to its first confirmed write
on a survivor. Target: three RabbitMQ nodes start within 2× a single node (all boot at once, the
others join the first); NATS starts all nodes in parallel, Redis its primary first and then the
replicas (no target).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Callable

import nats
import pika
import pika.exceptions
import redis

from pytest_ipc.backends import Backend
from pytest_ipc.backends.services import BROKERS, PUBLIC_IMAGES, Wanted
from pytest_ipc.brokers.server import BrokerRuntime
from pytest_ipc.cluster.core import Cluster
from pytest_ipc.cluster.nats import NatsCluster, _monitor
from pytest_ipc.cluster.rabbitmq import RabbitMQCluster
from pytest_ipc.cluster.redis import MASTER, RedisCluster
from pytest_ipc.cluster.runner_container import ContainerNodes

#: A cluster starts within this many times one node's start (RabbitMQ: three boots share two cores,
#: so 1.5× is the floor).
START_TARGETS = {"rabbitmq": 2.0}
TIMEOUT = 60.0
KINDS = ("nats", "redis", "rabbitmq")
BACKENDS = ("local", "container")


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> float:
    """Seconds until `condition` holds (polled every 10 ms); raises TimeoutError after `timeout`."""
    began = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if condition():
                return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(0.01)


def image(kind: str) -> str:
    """The broker's image, as the container backend's setting names it (its environment variable)."""
    return os.environ.get(f"PYTEST_IPC_{kind.upper()}_IMAGE") or PUBLIC_IMAGES[kind]


def single_node(kind: str, backend: str) -> Backend[BrokerRuntime]:
    """One private broker on `backend`, as the broker fixtures start it."""
    candidates = BROKERS[kind].backends(Wanted(None, "benchmark", image(kind)))  # type: ignore[index]
    return next(candidate for candidate in candidates if candidate.name == backend)


def single_start(kind: str, backend: str) -> float:
    broker = single_node(kind, backend)
    began = time.monotonic()
    broker.start()
    took = time.monotonic() - began
    broker.stop()
    return took


# -- NATS --------------------------------------------------------------------------------------------

STREAM = "bench"


def nats_leader(cluster: NatsCluster, excluding: str) -> str | None:
    return cluster.stream_leader(STREAM, asking=set(cluster.names) - {excluding})


def nats_partition(cluster: NatsCluster) -> tuple[float, float, float]:
    leader = cluster.stream_leader(STREAM)
    assert leader is not None
    others = [cluster.node(name) for name in cluster.names if name != leader]
    began = time.monotonic()
    cluster.isolate(leader)
    detect = wait_for(lambda: all(_monitor(node, "routez")["num_routes"] == len(others) - 1 for node in others))
    wait_for(lambda: nats_leader(cluster, leader) not in (None, leader))
    elect = time.monotonic() - began
    began = time.monotonic()
    cluster.heal()
    recover = cluster.wait_until_healthy(TIMEOUT) + (time.monotonic() - began - 0)
    return detect, elect, min(recover, time.monotonic() - began)


async def nats_client_failover(cluster: NatsCluster) -> float:
    leader = cluster.stream_leader(STREAM)
    assert leader is not None
    servers = [
        f"nats://127.0.0.1:{cluster.client_port(leader)}",
        *(f"nats://127.0.0.1:{cluster.client_port(n)}" for n in cluster.names if n != leader),
    ]
    async def expected(_error: Exception) -> None:
        """The kill drops the connection: the reconnect is what is measured, not worth a traceback."""

    client = await nats.connect(
        servers=servers, dont_randomize=True, reconnect_time_wait=0.1, max_reconnect_attempts=-1, connect_timeout=1, error_cb=expected
    )
    js = client.jetstream()
    try:
        await js.publish(f"{STREAM}.x", b"before", timeout=1)
        cluster.kill(leader)
        began = time.monotonic()
        while time.monotonic() - began < TIMEOUT:
            try:
                await js.publish(f"{STREAM}.x", b"after", timeout=0.5)
                return time.monotonic() - began
            except Exception:
                await asyncio.sleep(0.01)
        raise TimeoutError("no publish confirmed after the leader kill")
    finally:
        await client.close()


def bench_nats(cluster: NatsCluster) -> dict[str, float]:
    cluster.add_stream(STREAM, [f"{STREAM}.>"])
    detect, elect, recover = nats_partition(cluster)
    failover = asyncio.run(nats_client_failover(cluster))
    cluster.settle(TIMEOUT)
    return {"detect": detect, "elect": elect, "recover": recover, "failover": failover}


# -- Redis -------------------------------------------------------------------------------------------


def redis_partition(cluster: RedisCluster) -> tuple[float, float, float]:
    primary = cluster.leader()
    assert primary is not None
    others = [name for name in cluster.names if name != primary]
    port = cluster.route(others[0], primary, "redis")
    began = time.monotonic()
    cluster.isolate(primary)

    def sees_down() -> bool:
        views = [cluster.direct(name, "sentinel").sentinel_master(MASTER) for name in others]
        return all(view.get("is_sdown") or view.get("is_odown") or view.get("port") != port for view in views)

    detect = wait_for(sees_down)
    try:
        wait_for(lambda: cluster.leader() not in (None, primary))
    except TimeoutError:
        views = {name: cluster.direct(name, "sentinel").sentinel_master(MASTER) for name in cluster.names}
        raise TimeoutError(f"no new primary: {views}") from None
    elect = time.monotonic() - began
    began = time.monotonic()
    cluster.heal()
    cluster.wait_until_healthy(TIMEOUT)  # the Sentinels turn the old primary into a replica themselves
    return detect, elect, time.monotonic() - began


def redis_client_failover(cluster: RedisCluster) -> float:
    from redis.sentinel import Sentinel

    class Mapped(Sentinel):
        def discover_master(self, service_name: str) -> tuple[str, int]:
            return cluster.client_view(*super().discover_master(service_name))

    sentinel = Mapped(cluster.sentinel_addresses(), socket_timeout=0.5, socket_connect_timeout=0.5)
    client = sentinel.master_for(MASTER, socket_timeout=0.5, socket_connect_timeout=0.5)
    primary = cluster.leader()
    assert primary is not None
    client.set("bench", "before")
    cluster.kill(primary)
    began = time.monotonic()
    try:
        while time.monotonic() - began < TIMEOUT:
            try:
                client.set("bench", "after")
                if int(client.execute_command("WAIT", 1, 300)) >= 1:
                    return time.monotonic() - began
            except redis.RedisError:
                time.sleep(0.01)
        raise TimeoutError("no write confirmed after the primary kill")
    finally:
        client.close()


def bench_redis(cluster: RedisCluster) -> dict[str, float]:
    detect, elect, recover = redis_partition(cluster)
    failover = redis_client_failover(cluster)
    cluster.settle(TIMEOUT)
    return {"detect": detect, "elect": elect, "recover": recover, "failover": failover}


# -- RabbitMQ ----------------------------------------------------------------------------------------

QUEUE = "bench"


def rabbitmq_channel(url: str) -> tuple[pika.BlockingConnection, pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(f"{url}?connection_attempts=1&socket_timeout=1"))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    return connection, channel


def rabbitmq_partition(cluster: RabbitMQCluster) -> tuple[float, float, float]:
    leader = cluster.queue_leader(QUEUE)
    assert leader is not None
    others = [name for name in cluster.names if name != leader]
    began = time.monotonic()
    cluster.isolate(leader)
    gone = cluster.node_name(leader)
    detect = wait_for(lambda: all(not any(n["name"] == gone and n["running"] for n in cluster.api(o, "nodes")) for o in others))
    wait_for(lambda: cluster.queue_leader(QUEUE) not in (None, leader))
    elect = time.monotonic() - began
    began = time.monotonic()
    cluster.heal()
    cluster.wait_until_healthy(TIMEOUT)  # the paused minority node (pause_minority) comes back by itself
    return detect, elect, time.monotonic() - began


def rabbitmq_client_failover(cluster: RabbitMQCluster) -> float:
    leader = cluster.queue_leader(QUEUE)
    assert leader is not None
    urls = dict(zip(cluster.names, cluster.urls(), strict=True))
    connection, channel = rabbitmq_channel(urls[leader])
    channel.basic_publish("", QUEUE, b"before")
    connection.close()
    cluster.kill(leader)
    began = time.monotonic()
    survivors = [urls[name] for name in cluster.names if name != leader]
    while time.monotonic() - began < TIMEOUT:
        try:
            connection, channel = rabbitmq_channel(survivors[0])
            channel.basic_publish("", QUEUE, b"after", mandatory=True)
            connection.close()
            return time.monotonic() - began
        except pika.exceptions.AMQPError:
            time.sleep(0.01)
    raise TimeoutError("no publish confirmed after the queue leader kill")


def bench_rabbitmq(cluster: RabbitMQCluster) -> dict[str, float]:
    connection, _channel = rabbitmq_channel(cluster.urls()[0])
    connection.close()
    wait_for(lambda: cluster.queue_leader(QUEUE) is not None)
    detect, elect, recover = rabbitmq_partition(cluster)
    failover = rabbitmq_client_failover(cluster)
    return {"detect": detect, "elect": elect, "recover": recover, "failover": failover}


def new_cluster(kind: str, backend: str) -> Cluster:
    kinds: dict[str, type[NatsCluster | RedisCluster | RabbitMQCluster]] = {
        "nats": NatsCluster,
        "redis": RedisCluster,
        "rabbitmq": RabbitMQCluster,
    }
    return kinds[kind](runner=kinds[kind].local_runner() if backend == "local" else ContainerNodes(image(kind)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated: {', '.join(KINDS)}")
    parser.add_argument("--rounds", type=int, default=3, help="alternating pairs of single-node and cluster starts (default 3)")
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="where the nodes run (default local)")
    options = parser.parse_args()
    backend = options.backend
    failed = False
    for kind in options.kinds.split(","):
        if kind not in KINDS:
            parser.error(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        cluster = new_cluster(kind, backend)
        if (reason := cluster.unavailable_reason() or single_node(kind, backend).unavailable_reason()) is not None:
            print(f"# {kind} ({backend}): not measured ({reason})")
            continue
        singles, starts = [], []
        for _ in range(options.rounds - 1):
            singles.append(single_start(kind, backend))
            probe = new_cluster(kind, backend).start()
            probe.stop()
            starts.append(probe.start_seconds or 0.0)
        singles.append(single_start(kind, backend))
        cluster.start()
        starts.append(cluster.start_seconds or 0.0)
        try:
            if isinstance(cluster, NatsCluster):
                figures = bench_nats(cluster)
            elif isinstance(cluster, RedisCluster):
                figures = bench_redis(cluster)
            else:
                assert isinstance(cluster, RabbitMQCluster)
                figures = bench_rabbitmq(cluster)
        finally:
            cluster.stop()
        ratio = statistics.median(started / single for started, single in zip(starts, singles, strict=True))
        target = START_TARGETS.get(kind)
        verdict = "no target" if target is None else f"target <= x{target:g}: {'PASS' if ratio <= target else 'FAIL'}"
        failed |= verdict.endswith("FAIL")
        shown = ", ".join(f"{started:.2f}/{single:.2f}" for started, single in zip(starts, singles, strict=True))
        print(
            f"{kind:<8} {backend}: start (median of {len(starts)}): single node {statistics.median(singles):6.2f} s, "
            f"3-node cluster {statistics.median(starts):6.2f} s (x{ratio:.2f}, {verdict}; cluster/single s: {shown})"
        )
        print(
            f"{kind:<8} {backend}: leader partitioned: detected {figures['detect']:5.2f} s, new leader {figures['elect']:5.2f} s; "
            f"healthy {figures['recover']:5.2f} s after healing; client failover after a leader kill {figures['failover']:5.2f} s"
        )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
