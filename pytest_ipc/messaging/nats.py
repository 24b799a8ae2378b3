"""Core NATS adapter (nats-py, asyncio on a `LoopThread`): queue groups for point-to-point, plain
subjects for pub/sub, and the native reply subject (an inbox) for request/reply.

Core NATS is at-most-once: no acknowledgements, no dead letters, and nothing is kept for a consumer
that is not subscribed. Those features raise `UnsupportedFeature` naming the transports that have them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSub

from pytest_ipc._loop import LoopThread
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.messaging._dispatch import Dispatcher
from pytest_ipc.messaging.channel import (
    Bus,
    Channel,
    Destination,
    Subscription,
    unsupported_settle,
)
from pytest_ipc.messaging.message import Delivery, Handler, Message

GROUP = "workers"
MESSAGE_ID = "Message-Id"
"""Not JetStream's `Nats-Msg-Id`: JetStream would silently drop a re-published id, hiding the
duplicates a test injects."""
CORRELATION_ID = "Correlation-Id"
REPLY_TO = "Reply-To"
"""Also a header: a JetStream message's native reply subject is its acknowledgement address."""


async def round_trip(client: Client) -> None:
    """Return once the server has processed everything `client` sent before (publishes, subscriptions).

    nats-py 2.16 writes a flush's PING at once, ahead of the commands its flusher task has still to
    write, so one PONG no longer proves that they arrived. The first flush lets the flusher run (it
    was woken before the PONG can be read); the second flush's PING then follows every command."""
    await client.flush()
    await client.flush()


def nats_headers(message: Message) -> dict[str, str]:
    headers = {**message.headers, MESSAGE_ID: message.message_id}
    if message.correlation_id is not None:
        headers[CORRELATION_ID] = message.correlation_id
    if message.reply_to is not None:
        headers[REPLY_TO] = message.reply_to
    return headers


def message_from(msg: Msg, *, native_reply: bool = True) -> Message:
    """`native_reply` takes a plain NATS requester's reply subject when the header is absent."""
    headers = dict(msg.headers or {})
    reply_to = headers.pop(REPLY_TO, None) or (msg.reply if native_reply else None)
    return Message(
        body=msg.data,
        message_id=headers.pop(MESSAGE_ID, ""),
        correlation_id=headers.pop(CORRELATION_ID, None),
        reply_to=reply_to or None,
        headers=headers,
    )


def nats_url(endpoint: BrokerEndpoint) -> str:
    return f"nats://{endpoint.host}:{endpoint.port}"


CONNECT_OPTIONS: dict[str, Any] = {"connect_timeout": 5, "reconnect_time_wait": 0.1, "name": "pytest-ipc"}


class NatsBus(Bus):
    transport = "nats"
    features = frozenset()

    def __init__(self, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.loop = LoopThread("nats-bus").start()
        try:
            self.client: Client = self.loop.run(nats.connect(
                nats_url(endpoint), user=endpoint.username, password=endpoint.password, **CONNECT_OPTIONS))
        except BaseException:
            self.loop.stop()
            raise

    def reply_channel(self, local_name: str) -> Channel:
        """A fresh inbox subject, NATS's own way of receiving replies."""
        return self.at(self.client.new_inbox())

    def publish(self, destination: Destination, message: Message) -> None:
        """Returns once the server has processed it (a flush round trip), not a delivery guarantee."""
        async def send() -> None:
            await self.client.publish(destination.address, message.body, reply=message.reply_to or "",
                                      headers=nats_headers(message))
            await round_trip(self.client)

        self.loop.run(send())

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return NatsSubscription(self, destination, handler)

    def _disconnect(self) -> None:
        try:
            self.loop.run(self.client.close(), timeout=10)
        finally:
            self.loop.stop()


class NatsSubscription(Subscription):
    bus: NatsBus

    def __init__(self, bus: NatsBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._subscription: NatsSub | None = None
        self._dispatcher: Dispatcher[Msg] | None = None

    def _open(self) -> None:
        dispatcher: Dispatcher[Msg] = Dispatcher(f"nats-consumer {self.destination.address}", self._handle)

        async def on_message(msg: Msg) -> None:
            dispatcher.put(msg)

        async def subscribe() -> NatsSub:
            queue = GROUP if self.destination.pattern == "queue" else ""
            subscription = await self.bus.client.subscribe(self.destination.address, queue=queue, cb=on_message)
            await round_trip(self.bus.client)  # the server knows the subscription before we return
            return subscription

        self._dispatcher = dispatcher
        self._subscription = self.bus.loop.run(subscribe())

    def _handle(self, msg: Msg) -> None:
        self.deliver(Delivery(message_from(msg), False, unsupported_settle(self.bus.transport)))

    def _close(self) -> None:
        if self._subscription is not None:
            self.bus.loop.run(self._subscription.unsubscribe())
        if self._dispatcher is not None:
            self._dispatcher.stop()
        self._subscription = self._dispatcher = None
