"""The async forms of `pytest_ipc.messaging`, over the asyncio client libraries (aio-pika,
redis.asyncio, nats-py, aiomqtt): the same names, awaited. STOMP stays sync-only: no well-kept
asyncio STOMP client exists.

    from pytest_ipc.messaging import aio

    async with aio.channels_for(rabbitmq_broker) as bus:
        orders = await bus.queue("orders")
        capture = await orders.capture()
        sent = await orders.publish(b"order 1")
        assert_nothing_lost([sent], await capture.wait_for_count(1))

The verdicts (`assert_nothing_lost`, `assert_all_correlated`, ...) do no I/O and are the sync ones.
"""

from pytest_ipc.messaging.aio.assertions import IdempotentConsumer
from pytest_ipc.messaging.aio.channel import (
    Bus,
    Capture,
    CaptureSubscription,
    Channel,
    Delivery,
    Handler,
    Subscription,
)
from pytest_ipc.messaging.aio.factory import OpeningBus, channels_for
from pytest_ipc.messaging.aio.faults import (
    DeadLetterAfter,
    Duplicate,
    Redeliver,
    Reorder,
    consumer_down,
    duplicate,
    reorder,
)
from pytest_ipc.messaging.aio.request_reply import RequestReply, Responder

__all__ = [
    "Bus",
    "Capture",
    "CaptureSubscription",
    "Channel",
    "DeadLetterAfter",
    "Delivery",
    "Duplicate",
    "Handler",
    "IdempotentConsumer",
    "OpeningBus",
    "Redeliver",
    "Reorder",
    "RequestReply",
    "Responder",
    "Subscription",
    "channels_for",
    "consumer_down",
    "duplicate",
    "reorder",
]
