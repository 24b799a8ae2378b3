"""Least privilege on brokers: per-test users with chosen permissions and `assert_least_privilege`,
with a real client per broker: a correct service passes, one that needs more than it was given is
caught naming the refused operation, and an over-privileged consumer is caught naming the grant."""

from __future__ import annotations

import pika
import pika.exceptions
import pytest

from pytest_ipc.brokers.errors import LeastPrivilegeError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.privileges import BrokerUser, assert_least_privilege


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
        assert [str(op) for op in reports[0].used] == ["read on queue 'orders' (basic.get/basic.consume)", "configure on queue 'orders' (queue.declare)"]

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
        assert "configure on queue 'orders-audit' (queue.declare): granted configure '^orders$', which does not cover 'orders-audit'" in message

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
