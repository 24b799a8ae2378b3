"""Redis adapter over redis.asyncio: the async form of `messaging.redis` (streams with a consumer
group for queues, PUBLISH/SUBSCRIBE for topics, the same emulated nack and dead-letter queue, and the
same wire format, so sync and async clients interoperate).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import redis.asyncio
import redis.asyncio.client
import redis.exceptions

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.messaging.aio.channel import Bus, Delivery, Handler, Settle, Subscription, unsupported_async_settle
from pytest_ipc.messaging.channel import Destination
from pytest_ipc.messaging.message import Message, Settlement, new_id
from pytest_ipc.messaging.redis import (
    FEATURES,
    GROUP,
    READ_BLOCK,
    StreamBatches,
    message_from_envelope,
    message_from_fields,
    pubsub_envelope,
    stream_fields,
)

RETRY_INTERVAL = 0.1
"""Seconds between reads while the server is away (a restart)."""


class RedisBus(Bus):
    transport = "redis"
    features = FEATURES

    def __init__(self, client: redis.asyncio.Redis, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.client = client
        self._keys: set[str] = set()

    @classmethod
    async def connect(cls, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> RedisBus:
        client = redis.asyncio.Redis(
            host=endpoint.host, port=endpoint.port, username=endpoint.username, password=endpoint.password,
            socket_timeout=10,
        )
        await client.ping()
        return cls(client, qualify)

    async def _declare(self, destination: Destination) -> None:
        if destination.pattern == "queue":
            await self.ensure_group(destination.address)
            if destination.dead_letter_address is not None:
                await self.ensure_group(destination.dead_letter_address)

    async def ensure_group(self, stream: str) -> None:
        """Create the stream's consumer group reading from the start (so nothing published earlier is missed)."""
        try:
            await self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._keys.add(stream)

    async def publish(self, destination: Destination, message: Message) -> None:
        """For a queue, returns after Redis appended it (XADD's reply is the confirmation)."""
        if destination.pattern == "queue":
            await self.client.xadd(destination.address, stream_fields(message))
        else:
            await self.client.publish(destination.address, pubsub_envelope(message))

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        if destination.pattern == "queue":
            return StreamSubscription(self, destination, handler)
        return PubSubSubscription(self, destination, handler)

    async def _disconnect(self) -> None:
        try:
            if self._keys:
                await self.client.delete(*self._keys)
        except redis.exceptions.ConnectionError:
            pass  # a restarted server without persistence has nothing left to delete
        finally:
            await self.client.aclose()


class StreamSubscription(Subscription):
    """A consumer in the stream's consumer group, reading on a task of its own."""

    bus: RedisBus

    def __init__(self, bus: RedisBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self.consumer = f"consumer-{new_id()[:8]}"
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        await self.bus.ensure_group(self.destination.address)
        self._stopping.clear()
        self._task = asyncio.create_task(self._consume(), name=f"redis-consumer {self.destination.address}")

    async def _consume(self) -> None:
        """Read until stopped (between batches, so a delivery under way is settled first)."""
        client, stream = self.bus.client, self.destination.address
        while not self._stopping.is_set():
            try:
                batches = cast(StreamBatches, await client.xreadgroup(
                    GROUP, self.consumer, {stream: ">"}, count=10, block=int(READ_BLOCK * 1000)))
            except redis.exceptions.ConnectionError as error:  # server restart: keep trying until stopped
                self.errors.append(error)
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            for _, entries in batches or []:
                for entry_id, fields in entries:
                    message = message_from_fields(fields)
                    redelivered = fields.get(b"redelivered") == b"1"
                    await self.deliver(Delivery(message, redelivered, self._settler(entry_id, message)))

    def _settler(self, entry_id: bytes, message: Message) -> Settle:
        stream, dead_letters = self.destination.address, self.destination.dead_letter_address

        async def settle(settlement: Settlement) -> None:
            async with self.bus.client.pipeline(transaction=True) as pipeline:
                if settlement == "requeue":
                    pipeline.xadd(stream, stream_fields(message, redelivered=True))
                elif settlement == "reject" and dead_letters is not None:
                    pipeline.xadd(dead_letters, stream_fields(message))
                pipeline.xack(stream, GROUP, entry_id)
                await pipeline.execute()

        return settle

    async def _close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None


class PubSubSubscription(Subscription):
    """A SUBSCRIBE on its own connection; ready once Redis confirmed the subscription."""

    bus: RedisBus

    def __init__(self, bus: RedisBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self._pubsub: redis.asyncio.client.PubSub | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        pubsub = self.bus.client.pubsub()
        await pubsub.subscribe(self.destination.address)
        confirmation = await pubsub.get_message(timeout=10)
        if not confirmation or confirmation["type"] != "subscribe":
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
            raise BrokerError(f"redis did not confirm SUBSCRIBE {self.destination.address}: {confirmation!r}")
        self._pubsub = pubsub
        self._stopping.clear()
        self._task = asyncio.create_task(self._listen(pubsub), name=f"redis-subscriber {self.destination.address}")

    async def _listen(self, pubsub: redis.asyncio.client.PubSub) -> None:
        settle = unsupported_async_settle("redis pub/sub")
        while not self._stopping.is_set():
            raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=READ_BLOCK)
            if raw is not None and raw["type"] == "message":
                await self.deliver(Delivery(message_from_envelope(raw["data"]), False, settle))

    async def _close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
        self._pubsub = self._task = None
