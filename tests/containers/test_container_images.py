"""Each image of images/build runs under ContainerBackend and a real client talks to it."""

from __future__ import annotations

import asyncio
import queue
import socket
import uuid
from typing import Any

import httpx
import nats
import paho.mqtt.client as mqtt
import pika
import pytest
import redis
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from pytest_ipc.backends.container import ContainerBackend, ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.stub_container import wiremock_spec, wiremock_url
from pytest_ipc.docker_engine import missing_image_reason
from tests.containers.container_specs import MOSQUITTO, NATS, RABBITMQ, REDIS

pytestmark = pytest.mark.docker


def start(spec: ContainerSpec, backends: list[ContainerBackend]) -> ContainerEndpoint:
    backend = ContainerBackend(spec)
    backends.append(backend)
    return backend.start()


def non_loopback_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def assert_published_on_loopback_only(docker_client: Any, endpoint: ContainerEndpoint) -> None:
    bindings = docker_client.containers.get(endpoint.container_id).attrs["HostConfig"]["PortBindings"]
    assert endpoint.host == "127.0.0.1"
    assert {binding["HostIp"] for bound in bindings.values() for binding in bound} == {"127.0.0.1"}
    assert sorted(int(binding["HostPort"]) for bound in bindings.values() for binding in bound) == sorted(
        endpoint.ports.values()
    )
    outside = non_loopback_address()
    for port in endpoint.ports.values() if outside else ():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((outside, port), timeout=2).close()


@pytest.mark.slow
def test_rabbitmq_speaks_amqp_and_stomp(backends: list[ContainerBackend], docker_client: Any) -> None:
    endpoint = start(RABBITMQ, backends)
    assert_published_on_loopback_only(docker_client, endpoint)
    queue_name = f"q-{uuid.uuid4().hex}"

    connection = pika.BlockingConnection(pika.ConnectionParameters(endpoint.host, endpoint.ports["amqp"]))
    try:
        channel = connection.channel()
        channel.queue_declare(queue_name, auto_delete=False)
        channel.basic_publish("", queue_name, b"over amqp")

        received: queue.Queue[str] = queue.Queue()

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame: stomp.utils.Frame) -> None:
                received.put(frame.body)

        conn = stomp.Connection12([(endpoint.host, endpoint.ports["stomp"])], vhost="/")
        conn.set_listener("collect", Listener())
        conn.connect("guest", "guest", wait=True)
        try:
            conn.subscribe(f"/amq/queue/{queue_name}", id="1", ack="auto")
            assert received.get(timeout=10) == "over amqp"
        finally:
            conn.disconnect()
    finally:
        connection.close()


def test_redis_round_trip(backends: list[ContainerBackend], docker_client: Any) -> None:
    endpoint = start(REDIS, backends)
    assert_published_on_loopback_only(docker_client, endpoint)
    client = redis.Redis(endpoint.host, endpoint.ports["redis"])
    try:
        client.rpush("jobs", "a", "b")
        assert client.lrange("jobs", 0, -1) == [b"a", b"b"]
    finally:
        client.close()


def test_nats_publish_subscribe_and_jetstream(backends: list[ContainerBackend], docker_client: Any) -> None:
    endpoint = start(NATS, backends)
    assert_published_on_loopback_only(docker_client, endpoint)

    async def exchange() -> tuple[bytes, int]:
        client = await nats.connect(f"nats://{endpoint.host}:{endpoint.ports['nats']}", allow_reconnect=False)
        try:
            subscription = await client.subscribe("greetings")
            await client.publish("greetings", b"hello")
            message = await subscription.next_msg(timeout=5)
            stream = await client.jetstream().add_stream(name="ORDERS", subjects=["orders.>"])
            ack = await client.jetstream().publish("orders.new", b"1")
            assert ack.stream == stream.config.name
            return message.data, ack.seq
        finally:
            await client.close()

    assert asyncio.run(exchange()) == (b"hello", 1)


def test_mosquitto_round_trip(backends: list[ContainerBackend], docker_client: Any) -> None:
    endpoint = start(MOSQUITTO, backends)
    assert_published_on_loopback_only(docker_client, endpoint)
    received: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _client, _userdata, message: received.put(bytes(message.payload))
    client.connect(endpoint.host, endpoint.ports["mqtt"])
    client.loop_start()
    try:
        client.subscribe("sensors/+", qos=1)  # the broker handles it before the publish that follows
        client.publish("sensors/t1", b"21.5", qos=1).wait_for_publish(timeout=5)
        assert received.get(timeout=5) == b"21.5"
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_toxiproxy_image_serves_the_api_without_a_mount(backends: list[ContainerBackend], docker_client: Any) -> None:
    """local/toxiproxy:debian carries this checkout's server, like the real image its own (no mount)."""

    def api_answers(endpoint: ContainerEndpoint) -> bool:
        return httpx.get(f"http://{endpoint.host}:{endpoint.ports['api']}/version", timeout=1).status_code == 200

    endpoint = start(ContainerSpec("local/toxiproxy:debian", {"api": 8474}, ready=api_answers), backends)
    assert_published_on_loopback_only(docker_client, endpoint)
    api = f"http://{endpoint.host}:{endpoint.ports['api']}"
    created = httpx.post(f"{api}/proxies", json={"name": "db", "listen": "0.0.0.0:0", "upstream": "example:5432"})
    assert created.status_code == 201, created.text
    assert httpx.get(f"{api}/proxies").json()["db"]["upstream"] == "example:5432"


@pytest.mark.slow
def test_the_wiremock_image_serves_wiremock_like_the_public_one(backends: list[ContainerBackend], docker_client: Any) -> None:
    if (reason := missing_image_reason("local/wiremock:debian")) is not None:
        pytest.skip(f"{reason} (images/fetch-wiremock-jar, then images/build)")
    endpoint = start(wiremock_spec("local/wiremock:debian"), backends)
    assert_published_on_loopback_only(docker_client, endpoint)
    assert httpx.get(f"{wiremock_url(endpoint)}/__admin/health", timeout=5).json()["version"] == "3.13.2"
