"""Brokers over TLS, with real clients: pika (`ssl_options`), redis-py (`ssl_ca_certs`), nats-py (an
`ssl.SSLContext`) and paho-mqtt (`tls_set`) connect with verification; a client that trusts only the
system's CAs fails with the verification error production shows; mutual TLS refuses a client without
a certificate and accepts one issued by the session CA.

RabbitMQ is the session's broker (the project's pytest settings say ``ipc_rabbitmq_tls = "mutual"``:
no second 5 s boot). Redis, NATS and Mosquitto start in well under a second, so this module runs
private ones, in both modes ("on" and "mutual").
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import nats
import paho.mqtt.client as mqtt
import pika
import pika.exceptions
import pytest
import redis

from pytest_ipc import docker_engine
from pytest_ipc._errors import IpcUsageError
from pytest_ipc.backends.broker_container import ContainerBroker
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.kinds import KINDS
from pytest_ipc.brokers.mqtt import mqtt_client
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.brokers.tls import ListenerTls
from pytest_ipc.tls import CertificateAuthority

UNTRUSTED = "certificate verify failed"
TIMEOUT = 5.0

# -- one real client per broker: a round trip over TLS, raising what the client library raises ------


def system_trust() -> ssl.SSLContext:
    """What a client configured without the CA bundle uses: the system's CAs only."""
    return ssl.create_default_context()


def amqp_round_trip(handle: IsolatedBroker, context: ssl.SSLContext) -> bytes:
    tls = handle.tls
    endpoint = tls.endpoint
    parameters = pika.ConnectionParameters(
        endpoint.host,
        endpoint.port,
        handle.vhost or "/",
        pika.PlainCredentials(endpoint.username or "", endpoint.password or ""),
        ssl_options=pika.SSLOptions(context, endpoint.host),
        connection_attempts=1,
        socket_timeout=TIMEOUT,
    )
    connection = pika.BlockingConnection(parameters)
    try:
        channel, queue = connection.channel(), handle.name("orders")
        channel.queue_declare(queue)
        channel.basic_publish("", queue, b"order-1")
        _, _, body = channel.basic_get(queue, auto_ack=True)
        return bytes(body or b"")
    finally:
        connection.close()


def redis_round_trip(handle: IsolatedBroker, ca: bool, certificate: bool) -> bytes:
    tls = handle.tls
    files: dict[str, Any] = {"ssl_ca_certs": str(tls.bundle_path)} if ca else {}
    if certificate:
        assert tls.client_certificate is not None
        files |= {"ssl_certfile": str(tls.client_certificate.cert_path), "ssl_keyfile": str(tls.client_certificate.key_path)}
    with redis.Redis.from_url(tls.url, socket_timeout=TIMEOUT, **files) as client:
        client.set(handle.name("k"), b"over-tls")
        return bytes(client.get(handle.name("k")) or b"")


def nats_round_trip(handle: IsolatedBroker, context: ssl.SSLContext) -> bytes:
    async def request_reply() -> bytes:
        async def quiet(error: Exception) -> None:
            return None

        client = await nats.connect(
            handle.tls.url, tls=context, connect_timeout=TIMEOUT, allow_reconnect=False, max_reconnect_attempts=0, error_cb=quiet
        )
        try:

            async def echo(message: Any) -> None:
                await message.respond(b"pong:" + message.data)

            await client.subscribe(handle.name("echo"), cb=echo)
            return bytes((await client.request(handle.name("echo"), b"ping", timeout=TIMEOUT)).data)
        finally:
            await client.close()

    return asyncio.run(request_reply())


def mqtt_round_trip(handle: IsolatedBroker, ca: bool, certificate: bool) -> bytes:
    tls = handle.tls
    client = mqtt_client(dataclasses.replace(tls.endpoint, client_tls=None))  # TLS as this helper says, not as the endpoint's
    client.tls_set(
        ca_certs=str(tls.bundle_path) if ca else None,
        certfile=str(tls.client_certificate.cert_path) if certificate and tls.client_certificate else None,
        keyfile=str(tls.client_certificate.key_path) if certificate and tls.client_certificate else None,
    )
    received: list[bytes] = []
    client.on_message = lambda client, userdata, message: received.append(bytes(message.payload))
    client.connect(tls.endpoint.host, tls.endpoint.port)
    try:
        loop_until(client, client.is_connected)
        topic = handle.name("sensors/t")
        client.subscribe(topic, qos=1)
        loop_until(client, lambda: client.loop(0.05) == 0 and client.publish(topic, b"21.5", qos=1).rc == 0)
        loop_until(client, lambda: received)
        return received[0]
    finally:
        client.disconnect()


def loop_until(client: mqtt.Client, condition: Callable[[], object]) -> None:
    """Run paho's loop until `condition`; a lost connection (a refused handshake) raises ConnectionError."""
    for _ in range(int(TIMEOUT / 0.01)):
        if condition():
            return
        if (code := client.loop(timeout=0.01)) != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"MQTT connection lost: {mqtt.error_string(code)}")
    raise AssertionError("MQTT condition not met in time")


def round_trip(kind: str, handle: IsolatedBroker, *, ca: bool = True, certificate: bool = True) -> bytes:
    """One message through the broker over TLS with the given trust and client certificate."""
    tls = handle.tls
    context = tls.client_context(certificate=certificate) if ca else system_trust()
    if kind == "rabbitmq":
        return amqp_round_trip(handle, context)
    if kind == "redis":
        return redis_round_trip(handle, ca, certificate)
    if kind == "nats":
        return nats_round_trip(handle, context)
    return mqtt_round_trip(handle, ca, certificate)


EXPECTED = {"rabbitmq": b"order-1", "redis": b"over-tls", "nats": b"pong:ping", "mqtt": b"21.5"}

# -- the brokers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_servers(ipc_tls_ca: CertificateAuthority) -> Iterator[Callable[[str, bool], BrokerServer]]:
    """Private Redis, NATS and Mosquitto with TLS listeners, started on first use, per mode."""
    started: dict[tuple[str, bool], tuple[LocalBroker, BrokerServer]] = {}

    def server(kind: str, mutual: bool) -> BrokerServer:
        if (kind, mutual) not in started:
            broker = KINDS[kind].local(ListenerTls.issue(ipc_tls_ca, mutual=mutual))  # type: ignore[index]
            if (reason := broker.missing_reason()) is not None:
                pytest.skip(reason)
            started[kind, mutual] = broker.start(), BrokerServer(broker, "local", "tls")
        return started[kind, mutual][1]

    try:
        yield server
    finally:
        for broker, session in started.values():
            session.close()
            broker.stop()


@pytest.fixture(params=["rabbitmq", "redis", "nats", "mqtt"])
def mutual(request: pytest.FixtureRequest, private_servers: Callable[[str, bool], BrokerServer]) -> Iterator[tuple[str, IsolatedBroker]]:
    """A test's handle on a broker whose TLS listener requires client certificates."""
    kind: str = request.param
    if kind == "rabbitmq":
        handle: IsolatedBroker = request.getfixturevalue("rabbitmq_broker")
        if handle.server.tls is None or not handle.server.tls.mutual:
            pytest.skip("the session's RabbitMQ was not started with --ipc-rabbitmq-tls mutual")
        yield kind, handle
        return
    handle = private_servers(kind, True).isolate().open()
    try:
        yield kind, handle
    finally:
        handle.close()


# -- what a client sees --------------------------------------------------------------------------------


def test_a_client_trusting_the_session_ca_gets_through_with_its_certificate(mutual: tuple[str, IsolatedBroker]) -> None:
    kind, handle = mutual
    tls = handle.tls
    assert tls.url.startswith(f"{ {'rabbitmq': 'amqps', 'redis': 'rediss', 'nats': 'tls', 'mqtt': 'mqtts'}[kind]}://")
    assert tls.endpoint.tls and tls.mutual and tls.bundle_path.is_file()
    assert tls.client_certificate is not None and tls.client_certificate.cert_path.is_file()
    assert round_trip(kind, handle) == EXPECTED[kind]


def test_a_client_that_does_not_trust_the_ca_fails_verification(mutual: tuple[str, IsolatedBroker]) -> None:
    kind, handle = mutual
    with pytest.raises((ssl.SSLError, redis.ConnectionError)) as refused:  # what each library raises in production
        round_trip(kind, handle, ca=False)
    assert UNTRUSTED in str(refused.value)


def test_mutual_tls_refuses_a_client_without_a_certificate(mutual: tuple[str, IsolatedBroker]) -> None:
    kind, handle = mutual
    with pytest.raises((OSError, redis.ConnectionError, pika.exceptions.AMQPConnectionError)) as refused:
        round_trip(kind, handle, certificate=False)
    assert UNTRUSTED not in str(refused.value)  # the server refused it, not the client the server
    assert round_trip(kind, handle) == EXPECTED[kind]  # and the same client with the CA's certificate is let in


@pytest.mark.parametrize("kind", ["redis", "nats", "mqtt"])
def test_without_mutual_tls_a_client_needs_no_certificate(kind: str, private_servers: Callable[[str, bool], BrokerServer]) -> None:
    handle = private_servers(kind, False).isolate().open()
    try:
        assert not handle.tls.mutual
        assert round_trip(kind, handle, certificate=False) == EXPECTED[kind]
    finally:
        handle.close()


# -- the surface ---------------------------------------------------------------------------------------


def test_a_broker_without_a_tls_listener_says_how_to_get_one(redis_server: BrokerServer) -> None:
    if redis_server.tls is not None:
        pytest.skip("this session's Redis has a TLS listener")
    with pytest.raises(IpcUsageError, match="--ipc-redis-tls on"):
        _ = redis_server.isolate().tls


def test_a_container_recipe_without_tls_is_refused_when_tls_is_asked_for(ipc_tls_ca: CertificateAuthority) -> None:
    tls = ListenerTls.issue(ipc_tls_ca, mutual=True)
    container = ContainerBroker("rabbitmq", KINDS["rabbitmq"].container("rabbitmq:3.13"), KINDS["rabbitmq"].external_isolation, tls=tls)
    assert container.unavailable_reason() == "the rabbitmq container recipe makes no TLS listener; make it with the kind's container_tls"


CONTAINER_IMAGES = {
    "rabbitmq": "local/rabbitmq:debian",
    "redis": "local/redis:debian",
    "nats": "local/nats:debian",
    "mqtt": "local/mosquitto:debian",
}


@pytest.mark.docker
@pytest.mark.slow  # a container start each (3 s; RabbitMQ 30 s on a busy machine), beyond the module's budget
@pytest.mark.parametrize("kind", sorted(CONTAINER_IMAGES))
def test_a_container_broker_serves_mutual_tls_from_mounted_certificates(kind: str, ipc_tls_ca: CertificateAuthority) -> None:
    image = CONTAINER_IMAGES[kind]
    if (reason := docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(image)) is not None:
        pytest.skip(reason)
    tls, spec = ListenerTls.issue(ipc_tls_ca, mutual=True), KINDS[kind]  # type: ignore[index]
    broker = ContainerBroker(spec.kind, spec.container_tls(image, tls), spec.external_isolation, tls=tls).start()
    try:
        server = BrokerServer(broker, "container", "tls")
        handle = server.isolate().open()
        try:
            assert round_trip(kind, handle) == EXPECTED[kind]
            with pytest.raises((ssl.SSLError, redis.ConnectionError), match=UNTRUSTED):
                round_trip(kind, handle, ca=False)
            with pytest.raises((OSError, redis.ConnectionError, pika.exceptions.AMQPConnectionError)):
                round_trip(kind, handle, certificate=False)
        finally:
            handle.close()
            server.close()
    finally:
        broker.stop()


def test_a_bad_tls_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_inprocess("--ipc-nats-tls=yes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-nats-tls: unknown tls 'yes'; choose one of: off, on, mutual*"])
