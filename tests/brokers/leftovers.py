"""Clients and things a careless test leaves behind, and the check that none of it reaches the test
that gets its vhost next (shared by the fixture tests of every backend)."""

from __future__ import annotations

import threading

import pika
import pika.exceptions
import pytest
import stomp

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import BrokerServer


class LeftoverConsumer(threading.Thread):
    """The worst client a test can leave running: it consumes a queue, declares and consumes it again
    whenever the broker cancels it, and logs in again whenever its connection ends."""

    def __init__(self, parameters: pika.ConnectionParameters, queue: str) -> None:
        super().__init__(name="leftover-consumer")
        self.parameters, self.queue = parameters, queue
        self.received: list[bytes] = []
        self.consuming = threading.Event()
        self.logins_refused = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                connection = pika.BlockingConnection(self.parameters)
            except pika.exceptions.AMQPConnectionError:
                self.logins_refused.set()
                self._stopping.wait(0.02)
                continue
            try:
                self._consume(connection)
            except pika.exceptions.AMQPError:
                continue  # closed by the broker: log in again
            connection.close()

    def _consume(self, connection: pika.BlockingConnection) -> None:
        channel = connection.channel()
        cancelled = threading.Event()
        channel.add_on_cancel_callback(lambda _: cancelled.set())
        cancelled.set()
        while not self._stopping.is_set():
            if cancelled.is_set():
                cancelled.clear()
                channel.queue_declare(self.queue)
                channel.basic_consume(self.queue, lambda _c, _m, _p, body: self.received.append(body), auto_ack=True)
                self.consuming.set()
            connection.process_data_events(time_limit=0.02)

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


class LeftoverStompSubscriber(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.received: list[str] = []
        self.disconnected = threading.Event()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self.received.append(frame.body)

    def on_disconnected(self) -> None:
        self.disconnected.set()


def connect(handle: IsolatedBroker) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(handle.url))


def check_that_nothing_carries_over(server: BrokerServer) -> None:
    """A test leaves a consumer running (one that comes back for more), a connection nobody reads
    from, a durable queue with a message, an exchange and a binding between system exchanges; the
    test that gets its vhost next finds none of it and keeps all its messages."""
    before = server.isolate().open()
    if before.vhost == "/":
        pytest.skip("this RabbitMQ isolates by name prefix, not vhost")
    consumer = LeftoverConsumer(pika.URLParameters(before.url), "orders")
    consumer.start()
    later: list[IsolatedBroker] = []
    try:
        assert consumer.consuming.wait(10)
        left_open = connect(before)
        channel = left_open.channel()
        channel.queue_declare("audit", durable=True)
        channel.basic_publish("", "audit", b"left-over", pika.BasicProperties(delivery_mode=2))
        channel.exchange_declare("events", "fanout")
        channel.exchange_bind("amq.fanout", "amq.topic", "k")
        before.close()
        while before.vhost not in [handle.vhost for handle in later]:  # spare vhosts first, then this one
            assert len(later) < 10, "the vhost never came back from its recycle"
            later.append(server.isolate().open())
        assert consumer.logins_refused.wait(10)
        connection = connect(later[-1])
        try:
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
                connection.channel().queue_declare("audit", passive=True)
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
                connection.channel().exchange_declare("events", "fanout", passive=True)
            channel = connection.channel()
            channel.queue_declare("fanned-out", exclusive=True)
            channel.queue_bind("fanned-out", "amq.fanout")
            channel.basic_publish("amq.topic", "k", b"only through the left-over binding")
            channel.queue_declare("orders")
            sent = [f"order {n}".encode() for n in range(5)]
            for body in sent:
                channel.basic_publish("", "orders", body)
            assert [channel.basic_get("orders", auto_ack=True)[2] for _ in sent] == sent
            assert channel.basic_get("fanned-out", auto_ack=True)[2] is None
        finally:
            connection.close()
        assert consumer.received == []
        with pytest.raises(pika.exceptions.AMQPError):
            left_open.channel()  # closed by the broker
    finally:
        consumer.stop()
        for handle in later:
            handle.close()
    assert not consumer.is_alive()
