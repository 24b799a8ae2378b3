"""Services under test for least privilege, with each broker's real client (shared by the tests of
every backend), and whether a user's login still gets in."""

from __future__ import annotations

import ssl
import time

import nats
import pika
import pika.exceptions
import redis
import redis.exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.brokers.mqtt import login_accepted, mqtt_client
from pytest_ipc.brokers.nats import NatsRequester
from pytest_ipc.brokers.privileges import BrokerUser
from pytest_ipc.messaging.nats import round_trip


async def nats_service(
    user: BrokerUser, subscribe: list[str], publish: list[str], tls: ssl.SSLContext | None = None
) -> list[str]:
    """A NATS service: subscribes, publishes one message to each subject, flushes; returns the
    errors its client reported (a permissions violation arrives through the error callback).
    `tls`: the context for a TLS port."""
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    client = await nats.connect(user.url, connect_timeout=5, allow_reconnect=False, error_cb=on_error, tls=tls)
    try:
        for subject in subscribe:
            await client.subscribe(subject)
        for subject in publish:
            await client.publish(subject, b"order-1")
        await round_trip(client)  # a refusal reaches the error callback before the last PONG
    finally:
        await client.close()
    return errors


def mqtt_service(user: BrokerUser, subscribe: list[str], publish: list[str]) -> list[int]:
    """An MQTT service (paho): subscribes, publishes one message to each topic (QoS 1), disconnects;
    returns the reason codes of its subscriptions."""
    client = mqtt_client(user.endpoint, f"service-{user.name}")
    granted: list[int] = []
    client.on_subscribe = lambda _c, _u, _m, codes, _p: granted.extend(code.value for code in codes)
    client.connect(user.endpoint.host, user.endpoint.port)
    client.loop_start()
    try:
        for topic in subscribe:
            client.subscribe(topic, qos=1)
        for topic in publish:
            client.publish(topic, b"order-1", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while len(granted) < len(subscribe) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    return granted


def logs_in(user: BrokerUser) -> bool:
    """Whether the user's login still gets in, with the kind's real client."""
    endpoint = user.endpoint
    if endpoint.kind == "rabbitmq":
        try:
            pika.BlockingConnection(pika.URLParameters(user.url)).close()
        except pika.exceptions.AMQPConnectionError:
            return False
        return True
    if endpoint.kind == "redis":
        try:
            login = {"username": endpoint.username, "password": endpoint.password}
            with redis.Redis(endpoint.host, endpoint.port, **login, retry=Retry(NoBackoff(), 0)) as client:
                client.ping()
        except (redis.exceptions.AuthenticationError, redis.exceptions.ConnectionError):
            return False
        return True
    if endpoint.kind == "nats":
        try:
            NatsRequester(endpoint).close()
        except BrokerError:
            return False
        return True
    return login_accepted(endpoint)
