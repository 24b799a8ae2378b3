"""Brokers through the fault proxy: latency shows up in client round trips, down() cuts clients."""

from __future__ import annotations

import time

import pika
import pika.exceptions
import pytest
import redis

from pytest_ipc.brokers.handles import IsolatedBroker


def timed_ping(client: redis.Redis) -> float:
    started = time.monotonic()
    assert client.ping()
    return time.monotonic() - started


def test_latency_and_outage_through_the_proxy(redis_broker: IsolatedBroker) -> None:
    proxied = redis_broker.proxied()
    assert proxied.proxy is not None and proxied.endpoint.port == proxied.proxy.port
    assert proxied.namespace == redis_broker.namespace and proxied.endpoint.host == "127.0.0.1"
    with redis.Redis.from_url(proxied.url, socket_timeout=5, retry=None) as client:
        client.set(proxied.name("via-proxy"), "yes")
        direct_time = timed_ping(client)
        with proxied.proxy.latency(0.5):
            slowed_time = timed_ping(client)
        assert slowed_time >= 0.5 > direct_time
        with proxied.proxy.down(), pytest.raises(redis.ConnectionError):
            client.ping()
    with redis.Redis.from_url(redis_broker.url, socket_timeout=5) as direct:
        assert direct.get(redis_broker.name("via-proxy")) == b"yes"  # same broker, same namespace


def test_amqp_through_the_proxy_lands_in_the_tests_vhost(
    rabbitmq_broker: IsolatedBroker,
) -> None:
    proxied = rabbitmq_broker.proxied()
    assert proxied.proxy is not None and proxied.vhost == rabbitmq_broker.vhost
    connection = pika.BlockingConnection(pika.URLParameters(proxied.url))
    channel = connection.channel()
    channel.queue_declare(proxied.name("via-proxy"))
    with proxied.proxy.down(), pytest.raises(pika.exceptions.AMQPError):
        channel.queue_declare(proxied.name("via-proxy"), passive=True)
