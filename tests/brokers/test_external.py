"""The external backend against the brokers this machine already runs (only ever as URLs: nothing
here starts, stops or deletes anything but what the tests themselves created)."""

from __future__ import annotations

import pytest

from pytest_ipc.brokers.endpoint import parse_broker_url

SYSTEM_BROKERS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "redis": "redis://127.0.0.1:6379/0",
    "nats": "nats://127.0.0.1:4222",
    "mqtt": "mqtt://127.0.0.1:1883",
}

INNER_SESSION = """
import asyncio, time

import nats
import paho.mqtt.client as mqtt
import pika
import pika.exceptions
import pytest
import redis

from pytest_ipc.brokers import BrokerControlError

CREATED = {}


def test_round_trips(rabbitmq_broker, redis_broker, nats_broker, mqtt_broker):
    handles = (rabbitmq_broker, redis_broker, nats_broker, mqtt_broker)
    assert {handle.server.backend for handle in handles} == {"external"}

    queue = CREATED["queue"] = rabbitmq_broker.name("orders")
    assert queue.startswith(rabbitmq_broker.namespace) and rabbitmq_broker.vhost == "/"
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_broker.url))
    channel = connection.channel()
    channel.queue_declare(queue)
    channel.basic_publish("", queue, b"order")
    assert channel.basic_get(queue, auto_ack=True)[2] == b"order"
    connection.close()

    key = CREATED["key"] = redis_broker.name("greeting")
    with redis.Redis.from_url(redis_broker.url) as client:
        client.set(key, "hello")
        assert client.get(key) == b"hello"

    async def request_reply():
        client = await nats.connect(nats_broker.url, allow_reconnect=False)
        async def echo(message):
            await message.respond(message.data.upper())
        await client.subscribe(nats_broker.name("echo"), cb=echo)
        reply = await client.request(nats_broker.name("echo"), b"ping", timeout=5)
        await client.close()
        return reply.data
    assert asyncio.run(request_reply()) == b"PING"

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    received = []
    client.on_message = lambda client, userdata, message: received.append(message.payload)
    client.connect(mqtt_broker.endpoint.host, mqtt_broker.endpoint.port)
    client.subscribe(mqtt_broker.name("t"), qos=1)
    for _ in range(20):
        client.loop(0.02)
    client.publish(mqtt_broker.name("t"), b"m", qos=1)
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        client.loop(0.02)
    client.disconnect()
    assert received == [b"m"]


def test_what_the_previous_test_created_is_gone(rabbitmq_broker, redis_broker):
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_broker.url))
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        connection.channel().queue_declare(CREATED["queue"], passive=True)
    connection.close()
    with redis.Redis.from_url(redis_broker.url) as client:
        assert client.exists(CREATED["key"]) == 0


def test_an_external_broker_is_not_ours_to_kill(redis_server):
    with pytest.raises(BrokerControlError, match="not ours"):
        with redis_server.killed():
            pass
"""


def test_system_brokers_as_external_urls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INNER_SESSION)
    urls = [f"--ipc-{kind}-url={url}" for kind, url in SYSTEM_BROKERS.items()]
    result = pytester.runpytest(*urls)
    result.assert_outcomes(passed=3)


def test_an_unreachable_url_is_an_error_not_a_fallback(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_uses(redis_server): pass")
    result = pytester.runpytest("--ipc-redis-url=redis://127.0.0.1:9/0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*external redis at 127.0.0.1:9*does not accept connections*"])


@pytest.mark.parametrize(
    ("kind", "url", "expected"),
    [
        (
            "rabbitmq",
            "amqp://u%40x:p%2Fw@h:5673/orders?stomp=61614",
            ("h", 5673, "u@x", "p/w", {"stomp": 61614}, "orders"),
        ),
        ("redis", "redis://:secret@h/3", ("h", 6379, "", "secret", {}, "3")),
        ("mqtt", "tcp://h", ("h", 1883, None, None, {}, "")),
    ],
)
def test_urls_are_parsed(kind: str, url: str, expected: tuple[object, ...]) -> None:
    endpoint, path = parse_broker_url(kind, url)  # type: ignore[arg-type]
    assert (
        endpoint.host,
        endpoint.port,
        endpoint.username,
        endpoint.password,
        endpoint.extra_ports,
        path,
    ) == expected


def test_a_bad_port_in_a_url_is_named() -> None:
    with pytest.raises(ValueError, match="expected nats://"):
        parse_broker_url("nats", "nats://h:notaport")
