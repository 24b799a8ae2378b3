"""A containerised service calls an HTTP stub and Redis through in-network proxies; faults injected
on those paths show up in the service's own behaviour, measured from the test side."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from pytest_ipc.network import ServiceNetwork
from tests import images
from tests.e2e_containers.conftest import Topology

pytestmark = pytest.mark.docker

LATENCY_MS = 700
# What the service reports for a call with no fault on its path; generous, as two cores are shared
# with other sessions. Test-side figures also include this process's own HTTP call to the service.
UNFAULTED_MS = LATENCY_MS / 2
# The service's own timeout for a dependency (app/service.py): failing faster means "refused", not "timed out".
DEPENDENCY_TIMEOUT_S = 3


def call(topology: Topology, dependency: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(topology.service.host_url("http", f"/call/{dependency}"), timeout=10)
    return response, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("dependency", ["http", "wiremock"])
def test_service_reaches_the_same_stub_definitions_on_either_backend(e2e: Topology, dependency: str) -> None:
    path = e2e.proxy_to(dependency)

    reply, _ = call(e2e, dependency)

    assert reply.status_code == 200, reply.text
    assert json.loads(reply.json()["reply"]) == {"price": 42}
    e2e.stub_of(dependency).assert_called("GET /price", times=1)
    assert path.proxy.counters().connections_accepted >= 1


def test_service_reaches_redis_through_its_proxy(e2e: Topology) -> None:
    reply, _ = call(e2e, "redis")

    assert reply.json()["reply"] == "+PONG"
    assert e2e.to_redis.proxy.counters().connections_accepted >= 1


DEPENDENCIES = ["http", "wiremock", "redis"]


def other_dependency(dependency: str) -> str:
    return "redis" if dependency != "redis" else "http"


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_latency_on_one_path_slows_only_that_call(e2e: Topology, dependency: str) -> None:
    faulted, other = e2e.proxy_to(dependency), other_dependency(dependency)

    with faulted.proxy.latency(LATENCY_MS / 1000):
        slow, slow_seconds = call(e2e, dependency)
        unaffected, _ = call(e2e, other)
    healed, _ = call(e2e, dependency)

    assert slow.status_code == 200, slow.text
    assert slow_seconds >= LATENCY_MS / 1000
    assert slow.json()["elapsed_ms"] >= LATENCY_MS
    assert unaffected.status_code == 200 and unaffected.json()["elapsed_ms"] < UNFAULTED_MS
    assert healed.status_code == 200 and healed.json()["elapsed_ms"] < UNFAULTED_MS


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_outage_on_one_path_fails_only_that_call(e2e: Topology, dependency: str) -> None:
    faulted, other = e2e.proxy_to(dependency), other_dependency(dependency)

    with faulted.proxy.down():
        failed, failed_seconds = call(e2e, dependency)
        unaffected, _ = call(e2e, other)
    recovered, _ = call(e2e, dependency)

    assert failed.status_code == 502
    assert "refused" in failed.json()["error"].lower()
    assert failed_seconds < DEPENDENCY_TIMEOUT_S  # refused at once: no timeout involved
    assert unaffected.status_code == 200
    assert recovered.status_code == 200, recovered.text


def test_addresses_inside_and_outside_the_network(e2e: Topology) -> None:
    import redis

    assert e2e.redis.address("main") == "redis:6379"
    assert e2e.to_redis.address.startswith("toxiproxy:")
    assert e2e.redis.broker is not None
    assert e2e.redis.host_address("main") == (e2e.redis.broker.host, e2e.redis.broker.port)
    with redis.Redis.from_url(e2e.redis.broker.url, socket_timeout=5) as client:  # the test's own side
        assert client.ping()
    with pytest.raises(KeyError, match="has no port named 'amqp'; it has: main"):
        e2e.redis.address("amqp")


def test_bad_names_are_refused_with_the_valid_choices(e2e: Topology, ipc_network: ServiceNetwork) -> None:
    with pytest.raises(ValueError, match="alias 'Bad_Alias' is not a DNS label"):
        ipc_network.run(images.PYTHON, "Bad_Alias")
    with pytest.raises(ValueError, match="alias 'redis' is already taken"):
        ipc_network.run_broker("redis")
    with pytest.raises(ValueError, match="unknown broker kind 'kafka'; choose one of: rabbitmq, redis, nats, mqtt"):
        ipc_network.run_broker("kafka")  # type: ignore[arg-type]
