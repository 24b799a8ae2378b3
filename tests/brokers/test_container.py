"""The container backend: the same fixtures, brokers in containers (our locally built images)."""

from __future__ import annotations

import pytest

from pytest_ipc import docker_engine

pytestmark = pytest.mark.docker

IMAGES = {"redis": "local/redis:debian", "nats": "local/nats:debian", "mqtt": "local/mosquitto:debian"}

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


def test_brokers_from_the_container_backend(pytester: pytest.Pytester) -> None:
    reason = docker_engine.docker_unavailable_reason() or next(
        filter(None, (docker_engine.missing_image_reason(image) for image in IMAGES.values())), None
    )
    if reason is not None:
        pytest.skip(reason)
    pytester.makepyfile(INNER_SESSION)
    images = [f"--{kind}-image={image}" for kind, image in IMAGES.items()]
    result = pytester.runpytest("--ipc-broker-backend=container", *images)
    result.assert_outcomes(passed=2)
