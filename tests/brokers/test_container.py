"""The container backend: the same fixtures, brokers in containers (our locally built images)."""

from __future__ import annotations

import pytest

from pytest_ipc import docker_engine
from pytest_ipc.backends.broker_container import ContainerBroker
from pytest_ipc.brokers.rabbitmq import container_recipe, external_isolation
from pytest_ipc.brokers.server import BrokerServer
from tests.brokers.leftovers import check_that_nothing_carries_over

pytestmark = pytest.mark.docker

IMAGES = {"redis": "local/redis:debian", "nats": "local/nats:debian", "mqtt": "local/mosquitto:debian"}
RABBITMQ_IMAGE = "local/rabbitmq:debian"

INNER_SESSION = """
import socket

import redis

from pytest_ipc.brokers.mqtt import clear_retained, mqtt_ready
from pytest_ipc.brokers.nats import NatsRequester


def test_brokers_run_in_containers(redis_broker, nats_broker, mqtt_broker):
    assert {h.server.backend for h in (redis_broker, nats_broker, mqtt_broker)} == {"container"}
    with redis.Redis.from_url(redis_broker.url) as client:
        client.set(redis_broker.name("k"), "v")
        assert client.get(redis_broker.name("k")) == b"v"
    NatsRequester(nats_broker.endpoint).close()
    assert mqtt_ready(mqtt_broker.endpoint)


def test_crash_controls_keep_the_ports(redis_server, mqtt_server):
    before = redis_server.endpoint
    with redis_server.killed():
        with socket.socket() as probe:
            assert probe.connect_ex((before.host, before.port)) != 0 or not redis_ping(before)
    assert redis_server.endpoint == before
    assert redis_ping(before)
    with mqtt_server.stopped():
        assert not mqtt_ready(mqtt_server.endpoint)
    assert mqtt_ready(mqtt_server.endpoint)


def redis_ping(endpoint):
    try:
        with redis.Redis(host=endpoint.host, port=endpoint.port, socket_timeout=2) as client:
            return client.ping()
    except redis.RedisError:
        return False
"""


@pytest.mark.slow
def test_brokers_from_the_container_backend(pytester: pytest.Pytester) -> None:
    reason = docker_engine.docker_unavailable_reason() or next(
        filter(None, (docker_engine.missing_image_reason(image) for image in IMAGES.values())), None
    )
    if reason is not None:
        pytest.skip(reason)
    pytester.makepyfile(INNER_SESSION)
    images = [f"--ipc-{kind}-image={image}" for kind, image in IMAGES.items()]
    backends = [f"--ipc-{kind}-backend=container" for kind in IMAGES]
    result = pytester.runpytest(*backends, *images)
    result.assert_outcomes(passed=2)


@pytest.mark.slow
def test_rabbitmq_in_a_container_with_management_recycles_vhosts() -> None:
    """The management API's administration of the vhost pool, through the container's published port."""
    reason = docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(RABBITMQ_IMAGE)
    if reason is not None:
        pytest.skip(reason)
    broker = ContainerBroker("rabbitmq", container_recipe(RABBITMQ_IMAGE, management=True), external_isolation)
    broker.start()
    try:
        server = BrokerServer(broker, broker.name, "container")
        try:
            assert "management" in server.endpoint.extra_ports
            check_that_nothing_carries_over(server)
        finally:
            server.close()
    finally:
        broker.stop()
