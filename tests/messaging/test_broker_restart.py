"""A broker restart mid-flight: publishers and consumers reconnect, and what the broker had
confirmed (durable queue, persistent messages, publisher confirms) survives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.messaging import Bus, aio, assert_nothing_lost_across_restart, channels_for
from pytest_ipc.messaging.assertions import assert_nothing_lost
from pytest_ipc.messaging.factory import Transport

pytestmark = pytest.mark.slow


BROKERS: dict[str, Transport] = {"rabbitmq": "amqp", "redis": "redis", "nats": "jetstream"}
"""Each broker with the transport that persists what it confirmed (core NATS keeps nothing)."""


@pytest.fixture(params=list(BROKERS))
def broker(request: pytest.FixtureRequest) -> IsolatedBroker:
    request.getfixturevalue(f"{request.param}_server")  # restarts need a broker of the worker's own (--ipc-brokers-share)
    return request.getfixturevalue(f"{request.param}_broker")  # type: ignore[no-any-return]


@pytest.fixture
def restart_bus(broker: IsolatedBroker) -> Iterator[Bus]:
    with channels_for(broker, BROKERS[broker.kind]) as bus:
        yield bus


def test_a_restart_mid_flight_loses_nothing_the_broker_confirmed(broker: IsolatedBroker, restart_bus: Bus) -> None:
    """One restart (RabbitMQ takes seconds) covers both sides: a consumer that stays subscribed
    through it, and a backlog nobody consumes until after it."""
    orders, backlog = restart_bus.queue("orders"), restart_bus.queue("backlog")
    consumer = orders.capture()
    before = [orders.publish(f"before {n}".encode()) for n in range(5)]
    consumer.wait_for_count(5)
    waiting = [backlog.publish(f"waiting {n}".encode()) for n in range(10)]

    recovery_seconds = broker.server.restart()
    after = [orders.publish(f"after {n}".encode()) for n in range(5)]

    sent = before + after
    assert_nothing_lost(sent, consumer.wait_for_ids({m.message_id for m in sent}, timeout=20))
    assert_nothing_lost(waiting, backlog.capture().wait_for_count(10))
    assert 0 < recovery_seconds < 30


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_async_bus_rides_out_a_restart(broker: IsolatedBroker, anyio_backend: str) -> None:
    """The same through `messaging.aio`: its consumer reconnects (aio-pika's robust connection,
    redis.asyncio and nats-py retrying) while `server.aio.restart()` leaves the event loop running."""
    async with aio.channels_for(broker, BROKERS[broker.kind]) as bus:
        orders = await bus.queue("orders")
        consumer = await orders.capture()
        before = [await orders.publish(f"before {n}".encode()) for n in range(3)]
        await consumer.wait_for_count(3)

        await broker.server.aio.restart()
        after = [await orders.publish(f"after {n}".encode()) for n in range(3)]

        received = await consumer.wait_for_ids({m.message_id for m in after}, timeout=20)
    assert_nothing_lost_across_restart(before, after, received)
