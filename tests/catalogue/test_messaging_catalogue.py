"""The broken-client catalogue, messaging half: consumers, publishers and request/reply clients, each
written the way an application would (pika, and aio-pika on an event loop of its own), each broken
variant with one realistic defect and its correct twin, against a real RabbitMQ.

One test per property, written once from the property with pytest-ipc's faults and verdicts: it
fails every broken variant with a message that names the defect (asserted here) and passes every
correct one. The variants differ from their twins in the one place the defect lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import aio_pika.abc
import aiormq.exceptions
import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc._loop import LoopThread
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.messaging import (
    Bus,
    Capture,
    ConsumerCrash,
    CrashMidProcessing,
    IdempotencyProbe,
    Message,
    Responder,
    RoundTrip,
    assert_all_correlated,
    assert_nothing_lost,
    assert_nothing_lost_across_restart,
    assert_poison_dead_lettered,
    channels_for,
    duplicate,
)

Process = Callable[[str, bytes], None]
"""The application's work for one message: (message id, body)."""

PIKA_CONNECTION_LOST = (pika.exceptions.AMQPConnectionError, pika.exceptions.StreamLostError,
                        pika.exceptions.ChannelWrongStateError, pika.exceptions.ConnectionWrongStateError)
AIO_CONNECTION_LOST = (aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError,
                       ConnectionError)
RETRY = 0.2  # seconds between a client's reconnection attempts
# aio-pika schedules close() from __del__ of a connection whose handshake failed (the broker was down);
# collected outside its loop, that coroutine never runs: aio-pika's noise, not the clients'.
pytestmark = [
    pytest.mark.filterwarnings("ignore:coroutine 'Connection.close' was never awaited:RuntimeWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <coroutine object Connection.close:pytest.PytestUnraisableExceptionWarning"
    ),
]
WAIT = 15.0  # seconds a test waits for what a correct client delivers
# seconds a consumer has to take up its queue again once the restarted broker answers (a correct one
# takes a few reconnection attempts: well under a second, a few on a loaded machine)
RECONNECTED_WAIT = 8.0


@dataclass(frozen=True)
class Variant:
    """A client under test: how to make one, and the defect its verdict must name (None: correct)."""

    make: Callable[..., Any]
    defect: str | None


def judged(variant: Variant, verdict: Callable[[], None]) -> None:
    """Run the verdict: a correct variant passes it; a broken one fails it, naming its defect."""
    if variant.defect is None:
        verdict()
        return
    with pytest.raises(IpcAssertionError) as failure:
        verdict()
    assert variant.defect in str(failure.value), f"the verdict did not name the defect:\n{failure.value}"


def params(**variants: Variant) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("variant", [pytest.param(v, id=name) for name, v in variants.items()])


@pytest.fixture
def bus(rabbitmq_broker: IsolatedBroker) -> Iterator[Bus]:
    """The test's own side of the broker: declares the queues and publishes (with confirms)."""
    with channels_for(rabbitmq_broker) as opened:
        yield opened


# == consumers ===========================================================================================


class PikaConsumer(ABC):
    """An application's consumer on pika's BlockingConnection, on a thread of its own."""

    prefetch = 10

    def __init__(self) -> None:
        self.crashed = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._thread: threading.Thread | None = None

    def start(self, url: str, queue: str, process: Process) -> None:
        self.process = process
        self._connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = self._connection.channel()
        channel.basic_qos(prefetch_count=self.prefetch)
        channel.basic_consume(queue, self.on_message)
        self._thread = threading.Thread(target=self.run, args=(url, queue, channel), daemon=True)
        self._thread.start()

    def run(self, url: str, queue: str, channel: BlockingChannel) -> None:
        try:
            channel.start_consuming()
        except ConsumerCrash:
            self.crashed.set()  # the process died here; close() drops its connection, as the OS would
        except PIKA_CONNECTION_LOST:
            pass  # the broker went away; this consumer ends here

    @abstractmethod
    def on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None: ...

    def close(self) -> None:
        connection, thread = self._connection, self._thread
        if connection is not None and connection.is_open:
            if thread is not None and thread.is_alive():
                connection.add_callback_threadsafe(connection.close)
            else:
                connection.close()
        if thread is not None:
            thread.join(10)


class AioPikaConsumer(ABC):
    """An application's consumer on aio-pika, on its own event loop (the test drives it from outside)."""

    prefetch = 10

    def __init__(self) -> None:
        self.crashed = threading.Event()
        self._loop = LoopThread("aio-pika consumer").start()
        self._connection: aio_pika.abc.AbstractConnection | None = None

    def start(self, url: str, queue: str, process: Process) -> None:
        self.process = process
        self._loop.run(self._start(url, queue))

    async def connect(self, url: str) -> aio_pika.abc.AbstractConnection:
        return await aio_pika.connect(url)

    async def _start(self, url: str, queue: str) -> None:
        self._connection = await self.connect(url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        await (await channel.get_queue(queue)).consume(self._on_message)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        if self.crashed.is_set():
            return  # a dead process handles nothing; what it holds goes back when its connection drops
        try:
            await self.on_message(message)
        except ConsumerCrash:
            self.crashed.set()

    @abstractmethod
    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None: ...

    def close(self) -> None:
        if self._connection is not None and not self._connection.is_closed:
            self._loop.run(self._connection.close())
        self._loop.stop()


class AckAfterWork(PikaConsumer):
    def on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        self.process(properties.message_id, body)
        channel.basic_ack(method.delivery_tag)


class AckBeforeWork(PikaConsumer):
    """Defect: acknowledges on receipt, then works; a crash mid-work loses the message."""

    def on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        channel.basic_ack(method.delivery_tag)
        self.process(properties.message_id, body)


class AioAckAfterWork(AioPikaConsumer):
    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.process(message.message_id or "", message.body)
        await message.ack()


class AioAckBeforeWork(AioPikaConsumer):
    """Defect: acknowledges on receipt, then works."""

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        self.process(message.message_id or "", message.body)


class Deduplicating(PikaConsumer):
    """Remembers the ids it handled and skips a repeat."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        if properties.message_id not in self.seen:
            self.process(properties.message_id, body)
            self.seen.add(properties.message_id)
        channel.basic_ack(method.delivery_tag)


class AioDeduplicating(AioPikaConsumer):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        message_id = message.message_id or ""
        if message_id not in self.seen:
            self.process(message_id, message.body)
            self.seen.add(message_id)
        await message.ack()


class Recorder:
    """Thread-safe record of what the application processed (ids in order), to wait on."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.arrived = Capture("processed")

    def __call__(self, message_id: str, body: bytes) -> None:
        self.ids.append(message_id)
        self.arrived.add(Message(body, message_id=message_id))

    def wait_for(self, message_ids: set[str], timeout: float = WAIT) -> bool:
        try:
            self.arrived.wait_for_ids(message_ids, timeout)
        except AssertionError:
            return False
        return True


@params(
    sync_deduplicating=Variant(Deduplicating, None),
    sync_naive=Variant(AckAfterWork, "the consumer is not idempotent under duplicate delivery"),
    async_deduplicating=Variant(AioDeduplicating, None),
    async_naive=Variant(AioAckAfterWork, "the consumer is not idempotent under duplicate delivery"),
)
def test_each_message_takes_effect_once_under_duplicate_delivery(
    variant: Variant, bus: Bus, rabbitmq_broker: IsolatedBroker
) -> None:
    payments = bus.queue("payments")
    charged, processed = IdempotencyProbe(), Recorder()
    consumer = variant.make()

    def charge(message_id: str, body: bytes) -> None:
        charged.record(message_id)
        processed(message_id, body)

    consumer.start(rabbitmq_broker.url, payments.address, charge)
    try:
        publish_twice = duplicate(payments.publish, probability=1.0)  # every message delivered twice
        sent = [Message(f"charge {n}".encode()) for n in range(5)]
        for message in sent:
            publish_twice(message)
        end = payments.publish(b"end of test")  # behind every duplicate: once it is handled, all were
        assert processed.wait_for({end.message_id})
    finally:
        consumer.close()
    judged(variant, lambda: charged.assert_exactly_once([*sent, end]))


@params(
    sync_ack_after_work=Variant(AckAfterWork, None),
    sync_ack_before_work=Variant(AckBeforeWork, "the consumer acknowledged it before processing it"),
    async_ack_after_work=Variant(AioAckAfterWork, None),
    async_ack_before_work=Variant(AioAckBeforeWork, "the consumer acknowledged it before processing it"),
)
def test_nothing_is_lost_when_the_consumer_crashes_mid_processing(
    variant: Variant, bus: Bus, rabbitmq_broker: IsolatedBroker
) -> None:
    jobs = bus.queue("jobs")
    processed = Recorder()
    crash: CrashMidProcessing[tuple[str, bytes]] = CrashMidProcessing(
        lambda item: processed(*item), message_id=lambda item: item[0], at=2
    )
    sent = [jobs.publish(f"job {n}".encode()) for n in range(5)]

    first = variant.make()
    first.start(rabbitmq_broker.url, jobs.address, lambda message_id, body: crash((message_id, body)))
    assert first.crashed.wait(WAIT), "the consumer never reached its second message"
    first.close()  # the process is gone: its connection drops, the broker requeues what it held unacked

    successor = variant.make()
    successor.start(rabbitmq_broker.url, jobs.address, lambda message_id, body: crash((message_id, body)))
    try:
        end = jobs.publish(b"end of test")  # behind every requeued message
        assert processed.wait_for({end.message_id})
    finally:
        successor.close()
    judged(variant, lambda: assert_nothing_lost([*sent, end], processed.ids, crash=crash))


class RequeueUntilDone(PikaConsumer):
    """Defect: puts a message back on the queue whenever its work fails, however often it failed."""

    prefetch = 1

    def on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        try:
            self.process(properties.message_id, body)
        except ValueError:
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)


class DeadLetterAfterThree(PikaConsumer):
    """Retries a failing message twice, then rejects it for good (the queue dead-letters it)."""

    prefetch = 1

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, int] = {}

    def on_message(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        try:
            self.process(properties.message_id, body)
        except ValueError:
            self.failures[properties.message_id] = failures = self.failures.get(properties.message_id, 0) + 1
            channel.basic_nack(method.delivery_tag, requeue=failures < 3)
            return
        channel.basic_ack(method.delivery_tag)


class AioRequeueUntilDone(AioPikaConsumer):
    """Defect: requeues a failing message forever."""

    prefetch = 1

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            self.process(message.message_id or "", message.body)
        except ValueError:
            await message.nack(requeue=True)
            return
        await message.ack()


class AioDeadLetterAfterThree(AioPikaConsumer):
    prefetch = 1

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, int] = {}

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        message_id = message.message_id or ""
        try:
            self.process(message_id, message.body)
        except ValueError:
            self.failures[message_id] = failures = self.failures.get(message_id, 0) + 1
            await message.nack(requeue=failures < 3)
            return
        await message.ack()


POISON_DEFECT = "the consumer requeues a message it can never process"


@params(
    sync_dead_letters=Variant(DeadLetterAfterThree, None),
    sync_requeues_forever=Variant(RequeueUntilDone, POISON_DEFECT),
    async_dead_letters=Variant(AioDeadLetterAfterThree, None),
    async_requeues_forever=Variant(AioRequeueUntilDone, POISON_DEFECT),
)
def test_a_poison_message_is_dead_lettered_and_does_not_block_the_queue(
    variant: Variant, bus: Bus, rabbitmq_broker: IsolatedBroker
) -> None:
    orders = bus.queue("orders", dead_letter=True)
    dead_letters = orders.dead_letters.capture()
    attempts: list[str] = []
    processed = Recorder()

    def process(message_id: str, body: bytes) -> None:
        attempts.append(message_id)
        if body == b"poison":
            raise ValueError("cannot parse this order")
        processed(message_id, body)

    good = [orders.publish(f"order {n}".encode()) for n in range(2)]
    poison = orders.publish(b"poison")
    good += [orders.publish(f"order {n}".encode()) for n in range(2, 4)]
    consumer = variant.make()
    consumer.start(rabbitmq_broker.url, orders.address, process)
    try:
        settled_or_looping = lambda _: (  # noqa: E731
            (len(dead_letters) > 0 and set(processed.ids) >= {m.message_id for m in good})
            or attempts.count(poison.message_id) > 20
        )
        dead_letters.wait_for(settled_or_looping, WAIT)
    finally:
        consumer.close()
    judged(variant, lambda: assert_poison_dead_lettered(
        poison, attempts=attempts, dead_lettered=dead_letters.messages, others=good, processed=processed.ids,
        max_attempts=3,
    ))


class ReconnectingConsumer(AckAfterWork):
    """Consumes again on a new connection whenever the old one drops."""

    _closing = False

    def run(self, url: str, queue: str, channel: BlockingChannel) -> None:
        while True:
            super().run(url, queue, channel)
            if self._closing:
                return
            while not self._closing:
                try:
                    self._connection = pika.BlockingConnection(pika.URLParameters(url))
                    channel = self._connection.channel()
                    channel.basic_qos(prefetch_count=self.prefetch)
                    channel.basic_consume(queue, self.on_message)
                    break
                except PIKA_CONNECTION_LOST:
                    time.sleep(RETRY)

    def close(self) -> None:
        self._closing = True
        super().close()


class AioRobustConsumer(AioAckAfterWork):
    """aio-pika's robust connection: reconnects and consumes again by itself."""

    async def connect(self, url: str) -> aio_pika.abc.AbstractConnection:
        return await aio_pika.connect_robust(url, reconnect_interval=RETRY)


@pytest.mark.slow
@params(
    sync_reconnects=Variant(ReconnectingConsumer, None),
    sync_gives_up=Variant(AckAfterWork, "the consumer did not reconnect after the broker restart"),
    async_robust=Variant(AioRobustConsumer, None),
    async_plain_connection=Variant(AioAckAfterWork, "the consumer did not reconnect after the broker restart"),
)
def test_a_consumer_goes_on_consuming_after_a_broker_restart(
    variant: Variant, bus: Bus, rabbitmq_broker: IsolatedBroker, rabbitmq_server: BrokerServer
) -> None:
    if rabbitmq_server.backend == "external":
        pytest.skip("an external broker is not ours to restart")
    jobs = bus.queue("jobs")
    processed = Recorder()
    consumer = variant.make()
    consumer.start(rabbitmq_broker.url, jobs.address, processed)
    try:
        before = [jobs.publish(f"before {n}".encode()) for n in range(3)]
        assert processed.wait_for({m.message_id for m in before})
        rabbitmq_server.restart()
        after = [jobs.publish(f"after {n}".encode()) for n in range(3)]  # the test's bus reconnects by itself
        processed.wait_for({m.message_id for m in after}, timeout=RECONNECTED_WAIT)
    finally:
        consumer.close()
    judged(variant, lambda: assert_nothing_lost_across_restart(before, after, processed.ids))


# == publishers ==========================================================================================


class PikaPublisher:
    """An application's publisher on pika: reconnects and resends a message whose publish raised."""

    confirms = True

    def __init__(self, url: str, queue: str) -> None:
        self.url, self.queue = url, queue
        self._channel = self._connect()

    def _connect(self) -> BlockingChannel:
        deadline = time.monotonic() + 60
        while True:
            try:
                channel = pika.BlockingConnection(pika.URLParameters(self.url)).channel()
                break
            except PIKA_CONNECTION_LOST:
                if time.monotonic() > deadline:
                    raise
                time.sleep(RETRY)
        if self.confirms:
            channel.confirm_delivery()
        return channel

    def publish(self, message_id: str, body: bytes) -> None:
        properties = pika.BasicProperties(message_id=message_id, delivery_mode=pika.DeliveryMode.Persistent)
        while True:
            try:
                self._channel.basic_publish("", self.queue, body, properties)
                return
            except PIKA_CONNECTION_LOST:
                self._channel = self._connect()

    def close(self) -> None:
        if self._channel.connection.is_open:
            self._channel.connection.close()


class FireAndForget(PikaPublisher):
    """Defect: no publisher confirms; a publish returns once the bytes are written."""

    confirms = False


class AioPublisher:
    """The same publisher on aio-pika, on an event loop of its own."""

    confirms = True

    def __init__(self, url: str, queue: str) -> None:
        self._loop = LoopThread("aio-pika publisher").start()
        self._url, self._queue = url, queue
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._loop.run(self._connect(), timeout=90)

    async def _connect(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # the old connection is dead; let it go cleanly
                await self._connection.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                self._connection = await aio_pika.connect(self._url)
                self._channel = await self._connection.channel(publisher_confirms=self.confirms)
                return
            except (*AIO_CONNECTION_LOST, StopAsyncIteration):  # aiormq's word for "closed during the handshake"
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(RETRY)

    async def _publish(self, message_id: str, body: bytes) -> None:
        message = aio_pika.Message(body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        while True:
            try:
                assert self._channel is not None
                await self._channel.default_exchange.publish(message, self._queue)
                return
            except AIO_CONNECTION_LOST:
                await self._connect()

    def publish(self, message_id: str, body: bytes) -> None:
        self._loop.run(self._publish(message_id, body), timeout=90)

    def close(self) -> None:
        if self._connection is not None:
            self._loop.run(self._connection.close())
        self._loop.stop()


class AioFireAndForget(AioPublisher):
    """Defect: a channel without publisher confirms."""

    confirms = False


CONFIRMS_DEFECT = "the publisher does not wait for publisher confirms"


@pytest.mark.slow
@params(
    sync_confirms=Variant(PikaPublisher, None),
    sync_fire_and_forget=Variant(FireAndForget, CONFIRMS_DEFECT),
    async_confirms=Variant(AioPublisher, None),
    async_fire_and_forget=Variant(AioFireAndForget, CONFIRMS_DEFECT),
)
def test_what_a_publisher_reports_as_sent_survives_a_broker_restart(
    variant: Variant, bus: Bus, rabbitmq_broker: IsolatedBroker, rabbitmq_server: BrokerServer
) -> None:
    """The publisher reaches the broker through a fault proxy that holds what it sends (its upstream
    stalled) when the broker goes down: what was in flight is lost, and only a publisher that waits
    for the broker's confirm knows it must send those again."""
    if rabbitmq_server.backend == "external":
        pytest.skip("an external broker is not ours to restart")
    orders = bus.queue("orders")
    received = orders.capture()  # the test's consumer, direct and reconnecting
    slow_link = rabbitmq_broker.proxied()
    assert slow_link.proxy is not None
    publisher = variant.make(slow_link.url, orders.address)
    try:
        before = [Message(f"before {n}".encode()) for n in range(3)]
        for message in before:
            publisher.publish(message.message_id, message.body)

        reported: list[str] = []
        in_flight = [Message(f"in flight {n}".encode()) for n in range(3)]
        publishing = threading.Event()
        failures: list[BaseException] = []

        def publish_in_flight() -> None:
            publishing.set()
            try:
                for message in in_flight:
                    publisher.publish(message.message_id, message.body)
                    reported.append(message.message_id)
            except BaseException as error:  # shown by the test, not lost in a thread
                failures.append(error)

        stall = slow_link.proxy.bandwidth(0, stream="upstream")
        sender = threading.Thread(target=publish_in_flight, daemon=True)
        sender.start()
        assert publishing.wait(5)
        time.sleep(0.5)  # the bytes of the first publish (and, without confirms, of all three) are in the link
        rabbitmq_server.stop()
        stall.remove()
        rabbitmq_server.start()
        sender.join(90)
        assert not sender.is_alive(), "the publisher never finished after the restart"
        assert not failures, f"the publisher raised instead of publishing: {failures[0]!r}"

        after = [Message(f"after {n}".encode()) for n in range(3)]
        for message in after:
            publisher.publish(message.message_id, message.body)
        received.wait_for_ids({m.message_id for m in after}, timeout=WAIT)
    finally:
        publisher.close()
    judged(variant, lambda: assert_nothing_lost_across_restart(
        [m.message_id for m in before] + reported, after, received.messages
    ))


# == request/reply ========================================================================================


class PikaRpcClient:
    """An application's request/reply client on pika: one private reply queue, a correlation id per
    request; a reply that is not its request's is dropped."""

    def __init__(self, url: str, request_queue: str) -> None:
        self.request_queue = request_queue
        self._channel = pika.BlockingConnection(pika.URLParameters(url)).channel()
        self.reply_queue = self._channel.queue_declare("", exclusive=True).method.queue
        self._replies = self._channel.consume(self.reply_queue, auto_ack=True, inactivity_timeout=WAIT)

    def call(self, body: bytes) -> bytes:
        correlation_id = uuid.uuid4().hex
        properties = pika.BasicProperties(correlation_id=correlation_id, reply_to=self.reply_queue)
        self._channel.basic_publish("", self.request_queue, body, properties)
        for _method, reply_properties, reply in self._replies:
            if reply is None:
                raise TimeoutError(f"no reply to {body!r}")
            if self.mine(reply_properties.correlation_id, correlation_id):
                return bytes(reply)
        raise TimeoutError(f"no reply to {body!r}")

    def mine(self, reply_correlation_id: str | None, correlation_id: str) -> bool:
        return reply_correlation_id == correlation_id

    def close(self) -> None:
        self._channel.connection.close()


class FirstReplyClient(PikaRpcClient):
    """Defect: takes the first reply that arrives, whatever its correlation id."""

    def mine(self, reply_correlation_id: str | None, correlation_id: str) -> bool:
        return True


class AioRpcClient:
    """The same client on aio-pika: replies arrive on a queue of the client's; a call takes replies
    from it until one carries its correlation id, dropping the others."""

    def __init__(self, url: str, request_queue: str) -> None:
        self.request_queue = request_queue
        self._loop = LoopThread("aio-pika rpc client").start()
        self._loop.run(self._open(url))

    async def _open(self, url: str) -> None:
        self._replies: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
        self._connection = await aio_pika.connect(url)
        self._channel = await self._connection.channel()
        self._reply_queue = await self._channel.declare_queue("", exclusive=True)
        await self._reply_queue.consume(self._replies.put, no_ack=True)

    async def _call(self, body: bytes) -> bytes:
        correlation_id = uuid.uuid4().hex
        await self._channel.default_exchange.publish(
            aio_pika.Message(body, correlation_id=correlation_id, reply_to=self._reply_queue.name), self.request_queue)
        while True:
            reply = await asyncio.wait_for(self._replies.get(), WAIT)
            if self.mine(reply.correlation_id, correlation_id):
                return bytes(reply.body)

    def mine(self, reply_correlation_id: str | None, correlation_id: str) -> bool:
        return reply_correlation_id == correlation_id

    def call(self, body: bytes) -> bytes:
        return self._loop.run(self._call(body))

    def close(self) -> None:
        self._loop.run(self._connection.close())
        self._loop.stop()


class AioFirstReplyClient(AioRpcClient):
    """Defect: takes the next reply on its queue, whatever its correlation id."""

    def mine(self, reply_correlation_id: str | None, correlation_id: str) -> bool:
        return True


CORRELATION_DEFECT = "the client ignores correlation ids"


@params(
    sync_correlating=Variant(PikaRpcClient, None),
    sync_first_reply=Variant(FirstReplyClient, CORRELATION_DEFECT),
    async_correlating=Variant(AioRpcClient, None),
    async_first_reply=Variant(AioFirstReplyClient, CORRELATION_DEFECT),
)
def test_each_request_gets_its_own_reply(variant: Variant, bus: Bus, rabbitmq_broker: IsolatedBroker) -> None:
    """The responder answers every request twice, as a retrying service does."""
    requests = bus.queue("inventory")
    with Responder(requests, duplicate_probability=1.0) as responder:
        client = variant.make(rabbitmq_broker.url, requests.address)
        try:
            bodies = [f"reserve sku-{n}".encode() for n in range(4)]
            round_trips = [RoundTrip(Message(body), Message(client.call(body))) for body in bodies]
        finally:
            client.close()
    judged(variant, lambda: assert_all_correlated(round_trips, responder=responder))
