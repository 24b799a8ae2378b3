"""Messaging helpers over the real client libraries: channels, captures, request/reply, faults, assertions.

    with channels_for(rabbitmq_broker) as bus:
        orders = bus.queue("orders")
        capture = orders.capture()
        sent = orders.publish(b"order 1")
        assert_nothing_lost([sent], capture.wait_for_count(1))

The async forms, over the asyncio client libraries, are in `pytest_ipc.messaging.aio` (same names).
"""

from pytest_ipc.messaging.assertions import (
    IdempotencyProbe,
    IdempotentConsumer,
    assert_exactly_once_effect,
    assert_nothing_lost,
    assert_nothing_lost_across_restart,
    assert_poison_dead_lettered,
)
from pytest_ipc.messaging.capture import Capture
from pytest_ipc.messaging.channel import (
    Bus,
    CaptureSubscription,
    Channel,
    Destination,
    Subscription,
    UnsupportedFeature,
)
from pytest_ipc.messaging.conformance import ChannelConformanceError, assert_channel_conforms
from pytest_ipc.messaging.examples import example_message
from pytest_ipc.messaging.factory import channels_for
from pytest_ipc.messaging.faults import (
    ConsumerCrash,
    CrashMidProcessing,
    DeadLetterAfter,
    Duplicate,
    Redeliver,
    Reorder,
    consumer_down,
    duplicate,
    reorder,
)
from pytest_ipc.messaging.message import Delivery, Handler, Message
from pytest_ipc.messaging.request_reply import (
    RequestReply,
    Responder,
    RoundTrip,
    assert_all_correlated,
    echo_reply,
)

__all__ = [
    "Bus",
    "Capture",
    "CaptureSubscription",
    "Channel",
    "ChannelConformanceError",
    "ConsumerCrash",
    "CrashMidProcessing",
    "DeadLetterAfter",
    "Delivery",
    "Destination",
    "Duplicate",
    "Handler",
    "IdempotencyProbe",
    "IdempotentConsumer",
    "Message",
    "Redeliver",
    "Reorder",
    "RequestReply",
    "Responder",
    "RoundTrip",
    "Subscription",
    "UnsupportedFeature",
    "assert_all_correlated",
    "assert_channel_conforms",
    "assert_exactly_once_effect",
    "assert_nothing_lost",
    "assert_nothing_lost_across_restart",
    "assert_poison_dead_lettered",
    "channels_for",
    "consumer_down",
    "duplicate",
    "echo_reply",
    "example_message",
    "reorder",
]
