"""MQTT 5 adapter over aiomqtt: the async form of `messaging.mqtt` (QoS 1, `$share/` subscriptions for
queues, persistent sessions that keep messages for a stopped subscriber, the same MQTT 5 properties).

A subscriber whose connection drops (a broker restart) reconnects and resumes its session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aiomqtt

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.messaging.aio.channel import Bus, Delivery, Handler, Subscription, unsupported_async_settle
from pytest_ipc.messaging.channel import Destination
from pytest_ipc.messaging.message import Message, new_id
from pytest_ipc.messaging.mqtt import (
    FEATURES,
    GROUP,
    QOS,
    SESSION_EXPIRY,
    TIMEOUT,
    connect_properties,
    message_from_mqtt,
    publish_properties,
)

RETRY_INTERVAL = 0.1
"""Seconds between reconnection attempts while the broker is away."""


async def connected_client(endpoint: BrokerEndpoint, identifier: str, *, clean_start: bool, session_expiry: int) -> aiomqtt.Client:
    """A connected aiomqtt client (MQTT 5) with the endpoint's credentials."""
    client = aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=clean_start,
        properties=connect_properties(session_expiry),
        timeout=TIMEOUT,
    )
    try:
        await client.__aenter__()
    except aiomqtt.MqttError as error:
        raise BrokerError(f"MQTT broker {endpoint.host}:{endpoint.port} refused {identifier}: {error}") from error
    return client


class MqttBus(Bus):
    transport = "mqtt"
    features = FEATURES

    def __init__(self, endpoint: BrokerEndpoint, client: aiomqtt.Client, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.endpoint = endpoint
        self.client = client

    @classmethod
    async def connect(cls, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> MqttBus:
        client = await connected_client(endpoint, f"pub-{new_id()[:12]}", clean_start=True, session_expiry=0)
        return cls(endpoint, client, qualify)

    async def publish(self, destination: Destination, message: Message) -> None:
        """Returns once the broker acknowledged it (QoS 1's PUBACK)."""
        await self.client.publish(destination.address, message.body, qos=QOS, properties=publish_properties(message))

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return MqttSubscription(self, destination, handler)

    async def _disconnect(self) -> None:
        await self.client.__aexit__(None, None, None)


class MqttSubscription(Subscription):
    bus: MqttBus

    def __init__(self, bus: MqttBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self.client_id = f"sub-{new_id()[:12]}"
        self.filter = f"$share/{GROUP}/{destination.address}" if destination.pattern == "queue" else destination.address
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._resumed = False

    async def _connect(self) -> aiomqtt.Client:
        """Connect (resuming the session after the first time) and subscribe."""
        client = await connected_client(self.bus.endpoint, self.client_id, clean_start=not self._resumed,
                                        session_expiry=SESSION_EXPIRY)
        await client.subscribe(self.filter, qos=QOS)
        self._resumed = True
        return client

    async def _open(self) -> None:
        self._client = await self._connect()
        self._task = asyncio.create_task(self._consume(), name=f"mqtt-consumer {self.destination.address}")

    async def _consume(self) -> None:
        """Hand messages to the handler; after a dropped connection, reconnect until stopped."""
        settle = unsupported_async_settle("mqtt")
        while self._client is not None:
            try:
                async for received in self._client.messages:
                    message = message_from_mqtt(received.payload, received.properties)
                    await self.deliver(Delivery(message, False, settle))
            except aiomqtt.MqttError as error:
                if not self.running:
                    return
                self.errors.append(error)
            while self.running:
                try:
                    self._client = await self._connect()
                    break
                except BrokerError as error:
                    self.errors.append(error)
                    await asyncio.sleep(RETRY_INTERVAL)

    async def _close(self) -> None:
        """Disconnect, keeping the session: the broker queues for us meanwhile."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
        if self._task is not None:
            await self._task
            self._task = None

    async def close(self) -> None:
        await super().close()
        if self._resumed:  # end the session the broker keeps for us
            client = await connected_client(self.bus.endpoint, self.client_id, clean_start=True, session_expiry=0)
            await client.__aexit__(None, None, None)
            self._resumed = False
