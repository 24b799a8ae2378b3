"""Core NATS adapter over nats-py on the test's own event loop: the async form of `messaging.nats`
(queue groups for queues, plain subjects for topics, an inbox for replies; at-most-once, no acks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSub

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.messaging.aio.channel import Bus, Channel, Delivery, Handler, Subscription, unsupported_async_settle
from pytest_ipc.messaging.channel import Destination
from pytest_ipc.messaging.message import Message
from pytest_ipc.messaging.nats import CONNECT_OPTIONS, GROUP, message_from, nats_headers, nats_url, round_trip


class NatsBus(Bus):
    transport = "nats"
    features = frozenset()

    def __init__(self, client: Client, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.client = client

    @classmethod
    async def connect(cls, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> Self:
        client = await nats.connect(nats_url(endpoint), user=endpoint.username, password=endpoint.password,
                                    **CONNECT_OPTIONS)
        return cls(client, qualify)

    async def reply_channel(self, local_name: str) -> Channel:
        """A fresh inbox subject, NATS's own way of receiving replies."""
        return self.at(self.client.new_inbox())

    async def publish(self, destination: Destination, message: Message) -> None:
        """Returns once the server has processed it (a flush round trip), not a delivery guarantee."""
        await self.client.publish(destination.address, message.body, reply=message.reply_to or "",
                                  headers=nats_headers(message))
        await round_trip(self.client)

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return NatsSubscription(self, destination, handler)

    async def _disconnect(self) -> None:
        await self.client.close()


class NatsSubscription(Subscription):
    """nats-py awaits the callback for one message after the other, as a sync subscription's thread does."""

    bus: NatsBus

    def __init__(self, bus: NatsBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._subscription: NatsSub | None = None

    async def _open(self) -> None:
        settle = unsupported_async_settle(self.bus.transport)

        async def on_message(msg: Msg) -> None:
            await self.deliver(Delivery(message_from(msg), False, settle))

        queue = GROUP if self.destination.pattern == "queue" else ""
        self._subscription = await self.bus.client.subscribe(self.destination.address, queue=queue, cb=on_message)
        await round_trip(self.bus.client)  # the server knows the subscription before we return

    async def _close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        self._subscription = None
