"""Least privilege on brokers: per-test users with chosen permissions and `assert_least_privilege`,
with a real client per broker: a correct service passes, one that needs more than it was given is
caught naming the refused operation, and an over-privileged consumer is caught naming the grant."""

from __future__ import annotations

import asyncio
import dataclasses

import pika
import pika.exceptions
import pytest
import redis
import redis.exceptions

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.backends.broker_external import ExternalBroker
from pytest_ipc.brokers import aio
from pytest_ipc.brokers.endpoint import BrokerKind
from pytest_ipc.brokers.errors import LeastPrivilegeError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.kinds import KINDS
from pytest_ipc.brokers.privileges import BrokerUser, assert_least_privilege
from pytest_ipc.brokers.server import BrokerServer
from tests.brokers.privilege_services import logs_in, mqtt_service, nats_service


def amqp_channel(user: BrokerUser) -> tuple[pika.BlockingConnection, pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(user.url))
    return connection, connection.channel()


def amqp_consume_one(user: BrokerUser, queue: str) -> bytes:
    """A consumer service: declares its queue and takes one message from it."""
    connection, channel = amqp_channel(user)
    try:
        channel.queue_declare(queue)
        method, _, body = next(channel.consume(queue, inactivity_timeout=5))
        assert method is not None
        channel.basic_ack(method.delivery_tag)
        return body
    finally:
        connection.close()


def amqp_publish(user: BrokerUser, queue: str, body: bytes) -> None:
    connection, channel = amqp_channel(user)
    try:
        channel.basic_publish("", queue, body)
    finally:
        connection.close()


class TestRabbitMQ:
    def test_a_service_that_uses_exactly_what_it_was_given_passes(self, rabbitmq_broker: IsolatedBroker) -> None:
        consumer = rabbitmq_broker.user("orders-consumer", consume=["orders"])
        publisher = rabbitmq_broker.user("orders-publisher", publish=[""])
        assert consumer.granted[2].pattern == "^orders$"
        connection, channel = amqp_channel(consumer)
        channel.queue_declare("orders")
        connection.close()
        amqp_publish(publisher, "orders", b"order-1")
        assert amqp_consume_one(consumer, "orders") == b"order-1"
        reports = assert_least_privilege(consumer, publisher)
        assert [str(op) for op in reports[0].used] == [
            "read on queue 'orders' (basic.get/basic.consume)",
            "configure on queue 'orders' (queue.declare)",
        ]

    def test_a_service_that_needs_more_is_caught_naming_the_refused_operation(self, rabbitmq_broker: IsolatedBroker) -> None:
        consumer = rabbitmq_broker.user("orders-consumer", read="^orders$", write="", configure="^orders$")
        connection, channel = amqp_channel(consumer)
        channel.queue_declare("orders")
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
            channel.queue_declare("orders-audit")  # the service also wants an audit queue
        connection.close()
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        message = str(caught.value)
        assert "was refused 1 operation(s)" in message
        assert (
            "configure on queue 'orders-audit' (queue.declare): granted configure '^orders$', "
            "which does not cover 'orders-audit'"
        ) in message

    def test_an_over_privileged_consumer_is_caught_naming_the_grant_to_narrow(self, rabbitmq_broker: IsolatedBroker) -> None:
        consumer = rabbitmq_broker.user("orders-consumer", read=".*", configure="^orders$")
        publisher = rabbitmq_broker.user("orders-publisher", publish=[""])
        connection, channel = amqp_channel(consumer)
        channel.queue_declare("orders")
        connection.close()
        amqp_publish(publisher, "orders", b"order-1")
        assert amqp_consume_one(consumer, "orders") == b"order-1"
        assert_least_privilege(publisher)
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        message = str(caught.value)
        assert "read '.*': used only for 'orders'; narrow it to '^orders$'" in message
        assert "write '': never used" not in message  # an empty grant grants nothing


class TestRedis:
    """A work queue on a Redis list: the publisher LPUSHes, the consumer BRPOPs."""

    def test_a_service_that_uses_exactly_what_it_was_given_passes(self, redis_broker: IsolatedBroker) -> None:
        publisher = redis_broker.user("orders-publisher", publish=["orders"])
        consumer = redis_broker.user("orders-consumer", consume=["orders"])
        queue = redis_broker.name("orders")
        with redis.Redis.from_url(publisher.url) as client:
            client.lpush(queue, b"order-1")
        with redis.Redis.from_url(consumer.url) as client:
            assert client.brpop([queue], timeout=5) == (queue.encode(), b"order-1")
        reports = assert_least_privilege(publisher, consumer)
        assert str(reports[0].used[0]) == f"write keys on key {queue!r} (LPUSH)"

    def test_a_service_that_needs_more_is_caught_naming_the_refused_operation(self, redis_broker: IsolatedBroker) -> None:
        consumer = redis_broker.user("orders-consumer", consume=["orders"])
        queue, audit = redis_broker.name("orders"), redis_broker.name("audit")
        with redis.Redis.from_url(consumer.url) as client:
            assert client.rpop(queue) is None
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.incr(audit)  # the consumer also counts what it did, in a key it was not given
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        message = str(caught.value)
        assert f"write keys on key {audit!r} (INCRBY): granted write keys {queue!r}, which does not cover {audit!r}" in message

    def test_an_over_privileged_consumer_is_caught_naming_the_grant_to_narrow(self, redis_broker: IsolatedBroker) -> None:
        everything = redis_broker.name("*")
        consumer = redis_broker.user("orders-consumer", keys=[f"~{everything}"], channels=[f"&{redis_broker.name('events')}"])
        queue = redis_broker.name("orders")
        with redis.Redis.from_url(consumer.url) as client:
            assert client.rpop(queue) is None
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        message = str(caught.value)
        assert f"read keys {everything!r}: used only for {queue!r}; narrow it to {queue!r}" in message
        assert f"channels {redis_broker.name('events')!r}: never used; remove it" in message


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # nats-py runs on asyncio


@pytest.mark.anyio
async def test_the_async_forms_judge_alike_without_blocking_the_loop(nats_broker: IsolatedBroker) -> None:
    consumer = await aio.user(nats_broker, "orders-consumer", consume=[">"])
    subject = nats_broker.name("orders.created")
    assert await nats_service(consumer, [subject], []) == []
    with pytest.raises(LeastPrivilegeError, match="narrow it to"):
        await aio.assert_least_privilege(consumer)
    reports = await aio.assert_least_privilege(consumer, allow_unused=[nats_broker.name(">")])
    assert [operation.resource for operation in reports[0].used] == [subject]


class TestNats:
    def test_a_service_that_uses_exactly_what_it_was_given_passes(self, nats_broker: IsolatedBroker) -> None:
        publisher = nats_broker.user("orders-publisher", publish=["orders.created"])
        consumer = nats_broker.user("orders-consumer", consume=["orders.*"])
        subject = nats_broker.name("orders.created")
        assert asyncio.run(nats_service(consumer, [nats_broker.name("orders.*")], [])) == []
        assert asyncio.run(nats_service(publisher, [], [subject])) == []
        reports = assert_least_privilege(publisher, consumer)
        assert [str(operation) for operation in reports[0].used] == [f"publish on subject {subject!r} (PUB)"]

    def test_a_service_that_needs_more_is_caught_naming_the_refused_operation(self, nats_broker: IsolatedBroker) -> None:
        publisher = nats_broker.user("orders-publisher", publish=["orders.created"])
        audit = nats_broker.name("audit.orders")
        asyncio.run(nats_service(publisher, [], [nats_broker.name("orders.created"), audit]))
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(publisher)
        message = str(caught.value)
        assert f"publish on subject {audit!r} (PUBLISH): granted publish {nats_broker.name('orders.created')!r}" in message

    def test_an_over_privileged_consumer_is_caught_naming_the_grant_to_narrow(self, nats_broker: IsolatedBroker) -> None:
        consumer = nats_broker.user("orders-consumer", consume=[">"])
        subject = nats_broker.name("orders.created")
        assert asyncio.run(nats_service(consumer, [subject], [])) == []
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        assert f"subscribe {nats_broker.name('>')!r}: used only for {subject!r}; narrow it to {subject!r}" in str(caught.value)


class TestMqtt:
    def test_a_service_that_uses_exactly_what_it_was_given_passes(self, mqtt_broker: IsolatedBroker) -> None:
        publisher = mqtt_broker.user("orders-publisher", publish=["orders/created"])
        consumer = mqtt_broker.user("orders-consumer", consume=["orders/+"])
        assert mqtt_service(consumer, [mqtt_broker.name("orders/+")], []) == [1]
        mqtt_service(publisher, [], [mqtt_broker.name("orders/created")])
        assert_least_privilege(publisher, consumer)

    def test_a_service_that_needs_more_is_caught_naming_the_refused_operation(self, mqtt_broker: IsolatedBroker) -> None:
        consumer = mqtt_broker.user("orders-consumer", consume=["orders/+"])
        audit = mqtt_broker.name("audit/#")
        # Mosquitto 2.0 grants the subscription (SUBACK QoS 1) and then silently delivers nothing on it.
        mqtt_service(consumer, [mqtt_broker.name("orders/+"), audit], [])
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        assert f"read on topic filter {audit!r} (SUBSCRIBE): granted read {mqtt_broker.name('orders/+')!r}" in str(caught.value)

    def test_an_over_privileged_consumer_is_caught_naming_the_grant_to_narrow(self, mqtt_broker: IsolatedBroker) -> None:
        consumer = mqtt_broker.user("orders-consumer", consume=["#"], publish=["orders/done"])
        topic = mqtt_broker.name("orders/created")
        mqtt_service(consumer, [topic], [])
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        message = str(caught.value)
        assert f"read {mqtt_broker.name('#')!r}: used only for {topic!r}; narrow it to {topic!r}" in message
        assert f"write {mqtt_broker.name('orders/done')!r}: never used; remove it" in message


@pytest.mark.parametrize("kind", ["rabbitmq", "redis", "nats", "mqtt"])
def test_users_are_removed_with_their_test(kind: str, request: pytest.FixtureRequest) -> None:
    server: BrokerServer = request.getfixturevalue(f"{kind}_server")
    handle = server.isolate().open()
    try:
        user = handle.user("orders-consumer", consume=["orders"])
        assert logs_in(user)
    finally:
        handle.close()
    direct = dataclasses.replace(user.endpoint, host=server.endpoint.host, port=server.endpoint.port)  # no relay
    assert not logs_in(dataclasses.replace(user, endpoint=direct))


def external(kind: BrokerKind, server: BrokerServer) -> BrokerServer:
    """The session's broker seen as one we do not own (the external backend, given its URL)."""
    spec = KINDS[kind]
    runtime = ExternalBroker(kind, server.url, spec.external_isolation, "a test", users=spec.external_users).start()
    return BrokerServer(runtime, "external", "external")


def test_redis_users_work_on_a_redis_we_do_not_own(redis_server: BrokerServer) -> None:
    server = external("redis", redis_server)
    handle = server.isolate().open()
    try:
        consumer = handle.user("orders-consumer", keys=[f"~{handle.name('*')}"])
        with redis.Redis.from_url(consumer.url) as client:
            assert client.rpop(handle.name("orders")) is None
        with pytest.raises(LeastPrivilegeError, match=r"narrow it to '.*:orders'"):
            assert_least_privilege(consumer)
    finally:
        handle.close()
        server.close()


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        (
            "nats",
            "NATS permissions live in the server's config file, which pytest-ipc can rewrite and reload (SIGHUP) "
            "only on a server it started itself (the local and container backends)",
        ),
        (
            "mqtt",
            "Mosquitto's logins and ACLs live in its password and ACL files, which pytest-ipc can rewrite and reload "
            "(SIGHUP) only on a Mosquitto it started itself (the local and container backends)",
        ),
    ],
)
def test_brokers_we_cannot_administer_say_so(kind: BrokerKind, why: str, request: pytest.FixtureRequest) -> None:
    server = external(kind, request.getfixturevalue(f"{kind}_server"))
    handle = server.isolate().open()
    try:
        with pytest.raises(IpcUsageError) as refused:
            handle.user("orders-consumer", consume=["orders"])
        assert why in str(refused.value) and f"Use --ipc-{kind}-backend local or container" in str(refused.value)
    finally:
        handle.close()
        server.close()


def test_a_bad_keyword_names_the_valid_ones(redis_broker: IsolatedBroker) -> None:
    with pytest.raises(IpcUsageError, match="redis users take no read; valid: publish, consume, channels, commands, keys"):
        redis_broker.user("orders-consumer", read=".*")
