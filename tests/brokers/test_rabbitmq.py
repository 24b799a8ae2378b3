"""RabbitMQ as a fixture: AMQP and STOMP with real clients, a vhost per test, crash controls.

One node boots for the whole session (several seconds); every test here shares it.
"""

from __future__ import annotations

import threading
import time

import pika
import pika.exceptions
import pytest
import stomp

from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ
from pytest_ipc.brokers.server import BrokerServer
from tests.brokers.leftovers import check_that_nothing_carries_over, connect


def test_amqp_round_trip_in_the_tests_vhost(rabbitmq_broker: IsolatedBroker) -> None:
    assert rabbitmq_broker.url.endswith("/" + (rabbitmq_broker.vhost or "").replace("/", "%2F"))
    connection = connect(rabbitmq_broker)
    try:
        channel = connection.channel()
        queue = rabbitmq_broker.name("orders")
        channel.queue_declare(queue)
        channel.basic_publish("", queue, b"order-1")
        method, _, body = next(channel.consume(queue, inactivity_timeout=5))
        assert body == b"order-1"
        channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


def test_stomp_round_trip_through_the_plugin(rabbitmq_broker: IsolatedBroker) -> None:
    endpoint = rabbitmq_broker.endpoint
    if "stomp" not in endpoint.extra_ports:
        pytest.skip("this RabbitMQ has no STOMP listener")
    received: list[str] = []
    arrived = threading.Event()

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: stomp.utils.Frame) -> None:
            received.append(frame.body)
            arrived.set()

    connection = stomp.Connection([(endpoint.host, endpoint.extra_ports["stomp"])], vhost=rabbitmq_broker.vhost)
    connection.set_listener("", Listener())
    connection.connect(endpoint.username, endpoint.password, wait=True)
    try:
        destination = f"/queue/{rabbitmq_broker.name('stomp-orders')}"
        connection.subscribe(destination, id="1", ack="auto")
        connection.send(destination, "order-2")
        assert arrived.wait(10)
    finally:
        connection.disconnect()
    assert received == ["order-2"]


def test_tests_get_vhosts_and_logins_of_their_own(rabbitmq_server: BrokerServer) -> None:
    first, second = rabbitmq_server.isolate().open(), rabbitmq_server.isolate().open()
    if first.vhost == second.vhost:
        pytest.skip("this RabbitMQ isolates by name prefix, not vhost")
    assert first.endpoint.username != second.endpoint.username != rabbitmq_server.endpoint.username
    connection = connect(first)
    connection.channel().queue_declare("shared-name")
    other = connect(second)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        other.channel().queue_declare("shared-name", passive=True)
    other.close()
    first.close()
    assert login_refused(first)  # the vhost goes back to the pool without the test's login
    second.close()


def login_refused(handle: IsolatedBroker, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connect(handle).close()
        except pika.exceptions.ProbableAuthenticationError:
            return True
        except pika.exceptions.ProbableAccessDeniedError:
            pass  # mid-recycle: permissions already cleared, the login not deleted yet
        except pika.exceptions.ConnectionClosedByBroker as closed:
            if "is deleted" not in str(closed):
                raise
            # mid-recycle: logged in, then the login was deleted under the connection
        time.sleep(0.05)
    return False


def test_a_recycled_vhost_carries_nothing_over(rabbitmq_server: BrokerServer) -> None:
    """Through the session's own pool, whichever backend runs it."""
    check_that_nothing_carries_over(rabbitmq_server)


def test_the_control_node_reports_erlang_errors(rabbitmq_server: BrokerServer) -> None:
    if not isinstance(rabbitmq_server.runtime, LocalRabbitMQ):
        pytest.skip("only a local node has a control node")
    shell = rabbitmq_server.runtime.shell
    assert shell.evaluate('rabbit_vhost:exists(<<"/">>).') == "true"
    with pytest.raises(BrokerError, match="no_such_vhost"):
        shell.evaluate('ok = rabbit_vhost:delete(<<"no-such-vhost">>, <<"test">>).')


def test_a_local_node_reaches_only_its_own_plugins(rabbitmq_server: BrokerServer) -> None:
    """Its installation's other plugins cost every boot about 2 s (`rabbitmq_home`)."""
    if not isinstance(rabbitmq_server.runtime, LocalRabbitMQ):
        pytest.skip("only a local node boots from a private home")
    shell = rabbitmq_server.runtime.shell
    stomp = shell.evaluate("list_to_atom(code:lib_dir(rabbitmq_stomp)).")
    assert stomp.startswith(f"'{rabbitmq_server.runtime.base}/home/plugins/rabbitmq_stomp-"), stomp
    assert shell.evaluate("code:lib_dir(rabbitmq_mqtt).") == "{error,bad_name}"


@pytest.mark.slow
def test_persistent_message_in_durable_queue_survives_a_kill(
    rabbitmq_server: BrokerServer, rabbitmq_broker: IsolatedBroker
) -> None:
    if rabbitmq_server.backend == "external":
        pytest.skip("an external broker is not ours to kill")
    queue = rabbitmq_broker.name("durable-orders")
    connection = connect(rabbitmq_broker)
    connection.channel().queue_declare(queue, durable=True)
    connection.close()
    # A queue declared a moment before a kill can die with it (the definition is not synced at once,
    # see `killed`); a graceful restart puts it on disk, as the time a real queue has existed would.
    rabbitmq_server.restart()
    connection = connect(rabbitmq_broker)
    channel = connection.channel()
    channel.confirm_delivery()  # confirmed persistent messages are on disk
    channel.basic_publish("", queue, b"keep-me", pika.BasicProperties(delivery_mode=2))
    with rabbitmq_server.killed(), pytest.raises(pika.exceptions.AMQPError):
        connection.channel().queue_declare(queue, passive=True)
    assert rabbitmq_server.last_recovery is not None
    connection = connect(rabbitmq_broker)
    try:
        _, _, body = connection.channel().basic_get(queue, auto_ack=True)
        assert body == b"keep-me"
    finally:
        connection.close()
