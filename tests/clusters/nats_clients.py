"""NATS clients for the cluster tests: a correct one and the broken ones each verdict must catch.

Correct: every node's address, reconnects, JetStream publishes that wait for the stream's ack
(``Nats-Msg-Id`` so a retry is stored once), a consumer that skips message ids it has processed.
Broken: fire-and-forget core publishes (no confirms), one address and no reconnect, a consumer that
repeats the effect of a redelivered message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from pytest_ipc.cluster.assertions import ClientJournal
from pytest_ipc.cluster.handle import IsolatedCluster
from pytest_ipc.cluster.nats import NatsCluster

PUBLISH_INTERVAL = 0.05
PUBLISH_TIMEOUT = 0.5


async def connect(cluster: IsolatedCluster[NatsCluster], journal: ClientJournal, servers: list[str], *, reconnect: bool) -> Client:
    """A nats-py client whose connection events go to `journal`."""
    client: Client

    async def disconnected() -> None:
        journal.disconnected()

    async def reconnected() -> None:
        journal.connected(client.connected_url.port if client.connected_url else None)

    async def ignore(error: Exception) -> None:
        return None

    client = await nats.connect(
        servers=servers,
        allow_reconnect=reconnect,
        max_reconnect_attempts=-1 if reconnect else 0,
        reconnect_time_wait=0.1,
        connect_timeout=1,
        ping_interval=1,
        max_outstanding_pings=2,
        dont_randomize=True,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=ignore,
    )
    journal.connected(client.connected_url.port if client.connected_url else None)
    return client


@dataclass
class Publisher:
    """Publishes ``<label>-<n>`` every `PUBLISH_INTERVAL` until stopped; `confirm` waits for the ack."""

    client: Client
    journal: ClientJournal
    subject: str
    label: str
    confirm: bool = True
    sent: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        js = self.client.jetstream()
        while not self._stop.is_set():
            message_id = f"{self.label}-{self.sent:04d}"
            self.sent += 1
            try:
                if self.confirm:
                    await js.publish(self.subject, message_id.encode(), timeout=PUBLISH_TIMEOUT, headers={"Nats-Msg-Id": message_id})
                    self.journal.published(message_id, "confirmed")
                else:
                    await self.client.publish(self.subject, message_id.encode())
                    self.journal.published(message_id, "unconfirmed")
            except Exception as error:  # a refusal: the client knows this one was not stored
                self.journal.published(message_id, "refused", type(error).__name__)
            await asyncio.sleep(PUBLISH_INTERVAL)

    def stop(self) -> None:
        self._stop.set()


class Publishing:
    """`Publisher`s running as tasks until `stop()`."""

    def __init__(self, publishers: list[Publisher]) -> None:
        self.publishers = publishers
        self._tasks = [asyncio.create_task(publisher.run()) for publisher in publishers]

    async def stop(self) -> None:
        for publisher in self.publishers:
            publisher.stop()
        await asyncio.gather(*self._tasks)


async def stored_ids(cluster: NatsCluster, stream: str, subject: str, timeout: float = 10.0) -> list[str]:
    """Every message id the stream holds on `subject`, read by the harness after healing."""
    expected = cluster.stream_messages(stream)
    client = await nats.connect(cluster.urls(), connect_timeout=2, allow_reconnect=False)
    try:
        js = client.jetstream()
        subscription = await js.pull_subscribe(subject, config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        ids: list[str] = []
        deadline = time.monotonic() + timeout
        while len(ids) < expected and time.monotonic() < deadline:
            with contextlib.suppress(nats.errors.TimeoutError, asyncio.TimeoutError):
                ids.extend(message.data.decode() for message in await subscription.fetch(500, timeout=1))
        return ids
    finally:
        with contextlib.suppress(Exception):
            await client.close()


class Handlers:
    """Two consumers' effects for the same deliveries: one skips ids it processed, one does not."""

    def __init__(self, idempotent: ClientJournal, repeating: ClientJournal) -> None:
        self.idempotent = idempotent
        self.repeating = repeating
        self._done: set[str] = set()

    def handle(self, message_id: str) -> None:
        if message_id not in self._done:
            self._done.add(message_id)
            self.idempotent.processed(message_id)
        self.repeating.processed(message_id)
