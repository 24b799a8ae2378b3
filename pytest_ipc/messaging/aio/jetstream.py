"""NATS JetStream adapter over nats-py: the async form of `messaging.jetstream` (a stream per queue
read through one durable pull consumer, acks and naks, the same emulated dead-letter queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from pytest_ipc.messaging.aio.channel import Delivery, Handler, Settle, Subscription
from pytest_ipc.messaging.aio.nats import NatsBus
from pytest_ipc.messaging.channel import Destination
from pytest_ipc.messaging.jetstream import FEATURES, FETCH_TIMEOUT, stream_name
from pytest_ipc.messaging.message import Message, Settlement
from pytest_ipc.messaging.nats import GROUP, message_from, nats_headers

RETRY_INTERVAL = 0.1
"""Seconds between pulls while the server is away (a restart)."""


class JetStreamBus(NatsBus):
    transport = "jetstream"
    features = FEATURES

    def __init__(self, client: Client, qualify: Callable[[str], str]) -> None:
        super().__init__(client, qualify)
        self.js: JetStreamContext = client.jetstream()
        self._streams: set[str] = set()

    async def _declare(self, destination: Destination) -> None:
        if destination.pattern == "queue":
            for subject in filter(None, (destination.address, destination.dead_letter_address)):
                await self.js.add_stream(name=stream_name(subject), subjects=[subject])
                self._streams.add(subject)

    async def publish(self, destination: Destination, message: Message) -> None:
        """To a stream: returns once JetStream stored it (its PubAck). Elsewhere: core NATS."""
        if destination.address not in self._streams:
            await super().publish(destination, message)
            return
        await self.js.publish(destination.address, message.body, headers=nats_headers(message))

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        if destination.address in self._streams:
            return JetStreamSubscription(self, destination, handler)
        return super()._subscription(destination, handler)

    async def _disconnect(self) -> None:
        try:
            for subject in self._streams:
                await self.js.delete_stream(stream_name(subject))
        finally:
            await super()._disconnect()


class JetStreamSubscription(Subscription):
    """A pull loop on a task of its own; stopping it keeps the durable consumer, so the stream keeps
    what arrives meanwhile for this consumer group."""

    bus: JetStreamBus

    def __init__(self, bus: JetStreamBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pull: JetStreamContext.PullSubscription | None = None

    async def _open(self) -> None:
        self._pull = await self.bus.js.pull_subscribe(
            self.destination.address, durable=GROUP, stream=stream_name(self.destination.address))
        self._stopping.clear()
        self._task = asyncio.create_task(self._consume(self._pull), name=f"jetstream-consumer {self.destination.address}")

    async def _consume(self, pull: JetStreamContext.PullSubscription) -> None:
        """Pull until stopped (between batches, so a delivery under way is settled first)."""
        while not self._stopping.is_set():
            try:
                batch = await pull.fetch(batch=10, timeout=FETCH_TIMEOUT)
            except (nats.errors.TimeoutError, TimeoutError):  # nothing to fetch (nats-py raises either)
                continue
            except nats.errors.Error as error:  # server restart: keep pulling until stopped
                self.errors.append(error)
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            for msg in batch:
                redelivered = msg.metadata.num_delivered is not None and msg.metadata.num_delivered > 1
                message = message_from(msg, native_reply=False)
                await self.deliver(Delivery(message, redelivered, self._settler(msg, message)))

    def _settler(self, msg: Msg, message: Message) -> Settle:
        dead_letters = self.destination.dead_letter_address

        async def settle(settlement: Settlement) -> None:
            if settlement == "ack":
                await msg.ack()
            elif settlement == "requeue":
                await msg.nak()
            else:
                if dead_letters is not None:
                    await self.bus.js.publish(dead_letters, message.body, headers=nats_headers(message))
                await msg.term()

        return settle

    async def _close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._pull is not None:
            await self._pull.unsubscribe()
            self._pull = None
