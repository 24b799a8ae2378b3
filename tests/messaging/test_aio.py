"""The async messaging helpers (`pytest_ipc.messaging.aio`) over the asyncio client libraries, on
every transport that has one, under anyio's pytest plugin on its asyncio backend (the client
libraries are asyncio's; `tests/brokers/test_async_controls.py` shows pytest-asyncio and a plain
asyncio loop run the same coroutines)."""

from __future__ import annotations

import asyncio
from typing import cast

import aio_pika.exceptions
import anyio
import pytest

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.brokers.endpoint import BrokerHandle
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.messaging import (
    IdempotencyProbe,
    Message,
    RoundTrip,
    UnsupportedFeature,
    aio,
    assert_all_correlated,
    assert_nothing_lost,
)
from pytest_ipc.messaging.aio.nats import NatsBus
from pytest_ipc.messaging.factory import Transport
from tests.messaging.conftest import BROKER_OF

ASYNC_TRANSPORTS: tuple[Transport, ...] = ("amqp", "redis", "nats", "jetstream", "mqtt")
ACKING: tuple[Transport, ...] = ("amqp", "redis", "jetstream")

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=ASYNC_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def handle(transport: Transport, request: pytest.FixtureRequest) -> BrokerHandle:
    return request.getfixturevalue(f"{BROKER_OF[transport]}_broker")  # type: ignore[no-any-return]


async def test_a_message_keeps_its_body_headers_and_ids(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        orders = await bus.queue("orders")
        capture = await orders.capture()
        sent = await orders.publish(Message(b"\x00binary\xff", headers={"tenant": "acme"}, correlation_id="c-1", reply_to="answers"))
        [received] = await capture.wait_for_count(1)
    assert received == sent


async def test_point_to_point_shares_and_pub_sub_copies(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        orders, prices = await bus.queue("orders"), await bus.topic("prices")
        first, second = await orders.capture(), await orders.capture()
        subscribers = [await prices.capture() for _ in range(2)]

        sent = [await orders.publish(f"order {n}".encode()) for n in range(20)]
        ticks = [await prices.publish(f"tick {n}".encode()) for n in range(5)]

        await first.wait_for(lambda _: len(first) + len(second) >= 20)
        assert_nothing_lost(sent, first.messages + second.messages)
        assert len(first) + len(second) == 20, "a message reached more than one competing consumer"
        for subscriber in subscribers:
            assert [m.body for m in await subscriber.wait_for_count(5)] == [m.body for m in ticks]


async def test_waiting_does_not_block_the_loop(redis_broker: BrokerHandle) -> None:
    """While a test awaits a capture, the loop runs: here a publisher task on the same loop."""
    async with aio.channels_for(redis_broker) as bus:
        jobs = await bus.queue("jobs")
        capture = await jobs.capture()

        async def publish_later() -> Message:
            await asyncio.sleep(0.2)
            return await jobs.publish(b"late")

        publisher = asyncio.create_task(publish_later())
        [received] = await capture.wait_for_count(1, timeout=5)
        assert received == await publisher
        with pytest.raises(IpcAssertionError, match=r"expected 2 message\(s\).*1 message\(s\) arrived: \[b'late'\]"):
            await capture.wait_for_count(2, timeout=0.2)


@pytest.mark.parametrize("transport", ["amqp", "redis", "jetstream", "mqtt"], indirect=True)
async def test_what_is_published_while_the_consumer_is_down_arrives_after(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        orders = await bus.queue("orders")
        capture = await orders.capture()
        async with aio.consumer_down(capture.subscription):
            during = [await orders.publish(f"during {n}".encode()) for n in range(5)]
            assert len(capture) == 0
        assert_nothing_lost(during, await capture.wait_for_ids(m.message_id for m in during))


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_consumer_down_is_refused_where_nothing_buffers(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        capture = await (await bus.queue("orders")).capture()
        with pytest.raises(UnsupportedFeature, match=r"buffering is not supported by nats"):
            async with aio.consumer_down(capture.subscription):
                pass


@pytest.mark.parametrize("transport", ACKING, indirect=True)
async def test_redelivery_and_dead_lettering(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        jobs = await bus.queue("jobs", dead_letter=True)
        dead = await jobs.dead_letters.capture()
        done = aio.Capture("done")

        async def handle_or_choke(delivery: aio.Delivery) -> None:
            if delivery.message.body == b"poison":
                raise ValueError("cannot parse")
            done.add(delivery.message)

        redeliver = aio.Redeliver(aio.DeadLetterAfter(handle_or_choke, max_attempts=2), times=1)
        await jobs.consume(redeliver)
        good = [await jobs.publish(f"job {n}".encode()) for n in range(3)]
        poison = await jobs.publish(b"poison")

        [dead_letter] = await dead.wait_for_count(1)
        assert dead_letter.message_id == poison.message_id
        assert_nothing_lost(good, await done.wait_for_count(3))
        assert redeliver.redelivered_seen >= {m.message_id for m in good}


@pytest.mark.parametrize("transport", ["nats", "mqtt"], indirect=True)
async def test_nack_faults_name_the_transports_that_have_them(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        jobs = await bus.queue("jobs")

        async def ignore(delivery: aio.Delivery) -> None:
            return None

        with pytest.raises(UnsupportedFeature, match=rf"nack is not supported by {transport}.*use one of: amqp"):
            await jobs.consume(aio.Redeliver(ignore))


async def test_duplicates_catch_a_consumer_that_is_not_idempotent(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        naive_queue, careful_queue = await bus.queue("naive"), await bus.queue("careful")
        naive, careful = IdempotencyProbe(), IdempotencyProbe()
        arrived = aio.Capture("arrived")

        async def charge(probe: IdempotencyProbe, delivery: aio.Delivery) -> None:
            probe.record(delivery.message.message_id)
            arrived.add(delivery.message)

        await naive_queue.consume(lambda delivery: charge(naive, delivery))
        await careful_queue.consume(aio.IdempotentConsumer(lambda delivery: charge(careful, delivery)))
        sent = [Message(f"charge {n}".encode()) for n in range(4)]
        for message in sent:
            await aio.duplicate(naive_queue.publish)(message)
            await aio.duplicate(careful_queue.publish)(message)
        await arrived.wait_for(lambda _: len(naive.effects) == 8 and len(careful.effects) == 4)

    careful.assert_exactly_once(sent)
    with pytest.raises(IpcAssertionError, match="the consumer is not idempotent under duplicate delivery"):
        naive.assert_exactly_once(sent)


async def test_request_reply_correlates_under_duplicates_and_reordering(handle: BrokerHandle, transport: Transport) -> None:
    async with aio.channels_for(handle, transport) as bus:
        requests = await bus.queue("rpc")
        async with await aio.Responder.serve(requests, duplicate_probability=0.5, reorder_window=3, seed=5) as responder, \
                await aio.RequestReply.open(requests) as client:
            round_trips = await client.request_all([f"question {n}".encode() for n in range(12)])
            assert_all_correlated(round_trips, responder=responder)
            assert client.duplicate_replies > 0

            first_come = [RoundTrip(request, reply) for request, reply in zip(client.requests, client.replies.messages, strict=False)]
            with pytest.raises(IpcAssertionError, match="the client ignores correlation ids"):
                assert_all_correlated(first_come, responder=responder)


async def test_a_nats_client_correlating_by_inbox_is_judged_correct(nats_broker: BrokerHandle) -> None:
    """A correct client that puts no correlation id on its requests (nats-py's `request()` gets each
    reply on an inbox of its own) passes; it once failed as "request None paired 20 times"."""
    async with aio.channels_for(nats_broker) as bus:
        requests = await bus.queue("rpc")
        async with await aio.Responder.serve(requests, duplicate_probability=0.5, seed=2) as responder:
            bodies = [f"question {n}".encode() for n in range(20)]
            client = cast(NatsBus, bus).client  # the application's own nats-py client
            replies = await asyncio.gather(*(client.request(requests.address, body, timeout=10) for body in bodies))
            round_trips = [RoundTrip(Message(body), Message(reply.data)) for body, reply in zip(bodies, replies, strict=True)]
            assert {request.correlation_id for request in responder.requests} == {None}
            assert_all_correlated(round_trips, responder=responder)
            assert_all_correlated(round_trips)


async def test_a_redis_topic_subscriber_resubscribes_after_a_restart(
    redis_broker: BrokerHandle, redis_server: BrokerServer
) -> None:
    """redis.asyncio subscribes again by itself once the server is back; pub/sub keeps nothing
    meanwhile, so the test publishes until it is heard."""
    async with aio.channels_for(redis_broker) as bus:
        prices = await bus.topic("prices")
        subscriber = await prices.capture()
        async with redis_server.aio.stopped():
            await anyio.sleep(0.5)  # long enough for the subscriber's reads to fail
        with anyio.fail_after(10):
            while not subscriber.messages:
                await prices.publish(b"tick")
                await anyio.sleep(0.05)


async def test_publisher_confirms_refuse_a_message_no_queue_takes(rabbitmq_broker: BrokerHandle) -> None:
    async with aio.channels_for(rabbitmq_broker) as bus:
        with pytest.raises(aio_pika.exceptions.PublishError):
            await bus.at("no-such-queue").publish(b"into the void")


async def test_a_bus_without_a_with_block(nats_broker: BrokerHandle) -> None:
    bus = await aio.channels_for(nats_broker)
    try:
        subjects = await bus.topic("events")
        capture = await subjects.capture()
        sent = await subjects.publish(b"hello")
        assert_nothing_lost([sent], await capture.wait_for_count(1))
    finally:
        await bus.close()


async def test_stomp_has_no_async_form(rabbitmq_broker: BrokerHandle) -> None:
    with pytest.raises(UnsupportedFeature, match=r"async is not supported by stomp: no well-kept asyncio STOMP client"):
        await aio.channels_for(rabbitmq_broker, "stomp")
