"""A network cut between publisher and broker (through the fault proxy): with publisher confirms a
publish either returns with the broker holding the message or raises, so the messages the test
counts as sent really are all delivered."""

from __future__ import annotations

import pika.exceptions
import pytest

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.messaging import Message, assert_nothing_lost, channels_for


def test_publishes_during_a_cut_fail_loudly_and_nothing_confirmed_is_lost(rabbitmq_broker: IsolatedBroker) -> None:
    proxied = rabbitmq_broker.proxied()
    assert proxied.proxy is not None
    with channels_for(proxied) as through_proxy, channels_for(rabbitmq_broker) as direct:
        orders = through_proxy.queue("orders")
        confirmed = [orders.publish(f"before {n}".encode()) for n in range(5)]

        with proxied.proxy.down(), pytest.raises(pika.exceptions.AMQPConnectionError):
            orders.publish(Message(b"during the cut"))
        confirmed += [orders.publish(f"after {n}".encode()) for n in range(5)]  # reconnects by itself

        received = direct.queue("orders").capture().wait_for_count(10)
        assert_nothing_lost(confirmed, received)
        assert len(received) == 10
