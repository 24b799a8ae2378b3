"""`channels_for`: the adapter a handle gets, and clear errors for what cannot work."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from pytest_ipc.brokers.endpoint import BrokerHandle
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.messaging import channels_for
from pytest_ipc.messaging.amqp import AmqpBus
from pytest_ipc.messaging.redis import RedisBus

MakeHandle = Callable[[str], BrokerHandle]
"""The `system_handle` fixture: a handle on a system broker of the given kind."""


def test_each_broker_kind_gets_its_default_transport(rabbitmq_broker: IsolatedBroker, redis_broker: IsolatedBroker) -> None:
    with channels_for(rabbitmq_broker) as amqp, channels_for(redis_broker) as redis:
        assert isinstance(amqp, AmqpBus) and isinstance(redis, RedisBus)
        assert amqp.queue("orders").address == rabbitmq_broker.name("orders")
        assert redis.queue("orders").address == redis_broker.name("orders")


def test_a_transport_the_broker_does_not_speak_is_refused(system_handle: MakeHandle) -> None:
    with pytest.raises(ValueError, match=r"redis does not speak 'stomp'; choose one of: redis"):
        channels_for(system_handle("redis"), "stomp")


def test_unknown_broker_kind_is_refused(system_handle: MakeHandle) -> None:
    handle = dataclasses.replace(system_handle("redis"), kind="kafka")  # type: ignore[type-var]
    with pytest.raises(ValueError, match=r"unknown broker kind 'kafka'; expected one of: rabbitmq, redis, nats, mqtt"):
        channels_for(handle)


def test_stomp_needs_the_stomp_listener(system_handle: MakeHandle) -> None:
    """The system RabbitMQ has no STOMP plugin: its endpoint has no "stomp" port."""
    with pytest.raises(ValueError, match=r"has no 'stomp' port in extra_ports: the STOMP plugin is not enabled"):
        channels_for(system_handle("rabbitmq"), "stomp")
