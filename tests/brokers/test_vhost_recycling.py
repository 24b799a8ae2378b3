"""The vhost pool against a real node, through both administrations (Erlang and management HTTP API):
a test in a recycled vhost finds nothing of the test before it, and no client of that test can
reach it any more; what cannot be emptied is retired; a vhost is never handed out half recycled."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence

import pika
import pika.exceptions
import pytest
import stomp

from pytest_ipc.brokers.rabbitmq_admin import ManagementVhosts, ShellVhosts, erlang_binary
from pytest_ipc.brokers.vhost_pool import Login, PoolVhost, VhostAdmin, VhostPool
from tests.brokers.conftest import LocalRabbitMQWithManagement
from tests.brokers.leftovers import LeftoverConsumer, LeftoverStompSubscriber

# What a vhost holds besides what every vhost has; "[]" each when it is as new.
VHOST_STATE = {
    "queues": "[amqqueue:get_name(Q) || Q <- rabbit_amqqueue:list(V)]",
    "exchanges": "[N || X <- rabbit_exchange:list(V), {name, {resource, _, exchange, N}} <- "
    'rabbit_exchange:info(X, [name]), N =/= <<>>, not lists:prefix("amq.", binary_to_list(N))]',
    "bindings": "[rabbit_binding:info(B, [source_name, destination_name]) || B <- rabbit_binding:list(V)]",
    "policies": "rabbit_policy:list(V)",
    "parameters": "rabbit_runtime_parameters:list(V)",
    "topic permissions": "rabbit_auth_backend_internal:list_vhost_topic_permissions(V)",
    "tracing": "[on || rabbit_trace:enabled(V)]",
}
AS_NEW = dict.fromkeys(VHOST_STATE, "[]")
LOCALHOST = "127.0.0.1"


def on_node(node: LocalRabbitMQWithManagement, vhost: str, expression: str) -> str:
    return node.shell.evaluate(f"V = {erlang_binary(vhost)}, {expression}.")


def vhost_state(node: LocalRabbitMQWithManagement, vhost: str) -> dict[str, str]:
    return {what: on_node(node, vhost, expression) for what, expression in VHOST_STATE.items()}


def binaries(answer: str) -> list[str]:
    """The Erlang binaries in a ``~w`` printed answer, as text."""
    found = re.findall(r"<<([\d,]*)>>", answer)
    return [bytes(int(byte) for byte in binary.split(",") if byte).decode() for binary in found]


def users_with_access(node: LocalRabbitMQWithManagement, vhost: str) -> list[str]:
    permissions = "rabbit_auth_backend_internal:list_vhost_permissions(V)"
    return binaries(on_node(node, vhost, f"[U || [{{user, U}} | _] <- {permissions}]"))


def connected_users(node: LocalRabbitMQWithManagement) -> list[str]:
    """The login of every AMQP connection on the node that has not ended."""
    return binaries(
        node.shell.evaluate(
            "[U || P <- rabbit_networking:connections_local(), "
            "{user, U} <- try rabbit_reader:info(P, [user]) catch _:_ -> [] end]."
        )
    )


def users(node: LocalRabbitMQWithManagement) -> list[str]:
    return binaries(node.shell.evaluate("[U || [{user, U} | _] <- rabbit_auth_backend_internal:list_users()]."))


def parameters(node: LocalRabbitMQWithManagement, vhost: PoolVhost) -> pika.ConnectionParameters:
    credentials = pika.PlainCredentials(vhost.login.username, vhost.login.password)
    return pika.ConnectionParameters(LOCALHOST, node.ports["amqp"], vhost.name, credentials, connection_attempts=1)


@pytest.fixture(params=["erlang", "management"])
def admin(request: pytest.FixtureRequest, rabbitmq_with_management: LocalRabbitMQWithManagement) -> VhostAdmin:
    node = rabbitmq_with_management
    if request.param == "erlang":
        return ShellVhosts(node.shell)
    return ManagementVhosts(node.api_url, node.username, node.password)


@pytest.fixture
def pool(admin: VhostAdmin) -> Iterator[VhostPool]:
    """A pool of one vhost: what is given back is what is leased next."""
    pool = VhostPool(admin, minimum=1)
    yield pool
    pool.close()


def leave_everything_behind(node: LocalRabbitMQWithManagement, vhost: PoolVhost) -> pika.BlockingConnection:
    """What a careless test leaves: messages in durable and transient queues, an exchange and its
    bindings, a binding between system exchanges, an exclusive queue, a consumer on a connection
    nobody reads from (so it never answers the broker's close), policies, a limit, a topic
    permission and tracing."""
    connection = pika.BlockingConnection(parameters(node, vhost))
    channel = connection.channel()
    channel.queue_declare("orders", durable=True)
    channel.basic_publish("", "orders", b"left-over", pika.BasicProperties(delivery_mode=2))
    channel.exchange_declare("events", "topic")
    channel.queue_declare("audit")
    channel.queue_bind("audit", "events", "#")
    channel.basic_publish("events", "order.placed", b"left-over")
    channel.exchange_bind("amq.fanout", "amq.topic", "k")
    channel.queue_declare("", exclusive=True)
    channel.basic_consume("audit", lambda *_: None)
    user, actor = erlang_binary(vhost.login.username), '<<"test">>'
    for expression in (
        f'ok = rabbit_policy:set(V, <<"ttl">>, <<".*">>, [{{<<"message-ttl">>, 60000}}], 0, <<"queues">>, {actor})',
        f'ok = rabbit_policy:set_op(V, <<"cap">>, <<".*">>, [{{<<"max-length">>, 1000}}], 0, <<"queues">>, {actor})',
        f'ok = rabbit_vhost_limit:set(V, [{{<<"max-queues">>, 100}}], {actor})',
        f"ok = rabbit_auth_backend_internal:set_topic_permissions({user}, V, "
        f'<<"amq.topic">>, <<"^a">>, <<"^a">>, {actor})',
        "ok = rabbit_trace:start(V)",
    ):
        on_node(node, vhost.name, expression)
    assert all(vhost_state(node, vhost.name)[what] != "[]" for what in VHOST_STATE)
    return connection


@pytest.mark.slow
def test_the_next_test_in_a_recycled_vhost_finds_nothing_left(
    pool: VhostPool, rabbitmq_with_management: LocalRabbitMQWithManagement
) -> None:
    node = rabbitmq_with_management
    first = pool.lease()
    left_open = leave_everything_behind(node, first)
    pool.give_back(first)
    second = pool.lease()
    assert (second.name, pool.retired, pool.failures) == (first.name, [], [])  # recycled, not replaced
    assert vhost_state(node, second.name) == AS_NEW
    assert users_with_access(node, second.name) == [second.login.username]
    assert first.login.username not in connected_users(node)  # even the client that ignored the close
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(parameters(node, first))
    connection = pika.BlockingConnection(parameters(node, second))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
            connection.channel().queue_declare("orders", passive=True)
    finally:
        connection.close()
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        left_open.channel()  # the broker ended it


def test_clients_left_running_cannot_take_the_next_tests_messages(
    pool: VhostPool, rabbitmq_with_management: LocalRabbitMQWithManagement
) -> None:
    node = rabbitmq_with_management
    first = pool.lease()
    consumer = LeftoverConsumer(parameters(node, first), "orders")
    subscriber = LeftoverStompSubscriber()
    stomp_client = stomp.Connection([(LOCALHOST, node.ports["stomp"])], vhost=first.name)
    stomp_client.set_listener("", subscriber)
    consumer.start()
    try:
        assert consumer.consuming.wait(10)
        stomp_client.connect(first.login.username, first.login.password, wait=True)
        stomp_client.subscribe("/queue/orders", id="1", ack="auto")
        pool.give_back(first)
        second = pool.lease()
        assert second.name == first.name
        assert subscriber.disconnected.wait(10)  # the broker closed the STOMP session too
        assert consumer.logins_refused.wait(10)  # and the consumer cannot get back in
        connection = pika.BlockingConnection(parameters(node, second))
        try:
            channel = connection.channel()
            channel.queue_declare("orders")
            sent = [f"order {n}".encode() for n in range(5)]
            for body in sent:
                channel.basic_publish("", "orders", body)
            received = [channel.basic_get("orders", auto_ack=True)[2] for _ in sent]
        finally:
            connection.close()
        assert received == sent
        assert (consumer.received, subscriber.received) == ([], [])
    finally:
        consumer.stop()
        if stomp_client.is_connected():
            stomp_client.disconnect()
    assert not consumer.is_alive()


def test_a_vhost_that_cannot_be_emptied_is_retired_and_replaced(
    pool: VhostPool, rabbitmq_with_management: LocalRabbitMQWithManagement
) -> None:
    """Its tags are what no recycle resets: the vhost is deleted and another one is made."""
    node = rabbitmq_with_management
    first = pool.lease()
    on_node(node, first.name, '_ = rabbit_vhost:update_tags(V, [<<"changed">>], <<"test">>)')
    pool.give_back(first)
    second = pool.lease()
    assert second.name != first.name
    assert [retirement.vhost for retirement in pool.retired] == [first.name]
    assert "metadata" in pool.retired[0].leftovers
    assert on_node(node, first.name, "rabbit_vhost:exists(V)") == "false"
    assert vhost_state(node, second.name) == AS_NEW


def test_closing_the_pool_deletes_every_vhost_and_login(
    admin: VhostAdmin, rabbitmq_with_management: LocalRabbitMQWithManagement
) -> None:
    node = rabbitmq_with_management
    pool = VhostPool(admin, minimum=2)
    leased, spare = pool.lease(), pool.lease()
    pool.give_back(spare)
    pool.close()
    for vhost in (leased, spare):
        assert on_node(node, vhost.name, "rabbit_vhost:exists(V)") == "false"
    assert {leased.login.username, spare.login.username} & set(users(node)) == set()
    assert node.username in users(node)  # the node's own user stays


class GatedAdmin:
    """The real administration, with recycles that wait for a gate (and may be told to fail)."""

    def __init__(self, admin: VhostAdmin) -> None:
        self.admin = admin
        self.recycling = threading.Event()
        self.gate = threading.Event()
        self.fail_next = False

    def create(self, vhosts: Sequence[PoolVhost]) -> None:
        self.admin.create(vhosts)

    def recycle(self, used: PoolVhost, fresh: Login) -> list[str]:
        self.recycling.set()
        assert self.gate.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the broker went away")
        return self.admin.recycle(used, fresh)

    def delete(self, vhosts: Mapping[str, Collection[str]]) -> None:
        self.admin.delete(vhosts)

    def close(self) -> None:
        self.admin.close()


def test_a_vhost_is_not_handed_out_before_its_recycle_is_verified(
    rabbitmq_with_management: LocalRabbitMQWithManagement,
) -> None:
    node = rabbitmq_with_management
    gated = GatedAdmin(ShellVhosts(node.shell))
    pool = VhostPool(gated, minimum=1)
    try:
        first = pool.lease()
        leave_everything_behind(node, first).close()
        pool.give_back(first)
        assert gated.recycling.wait(10)
        leased: list[PoolVhost] = []
        waiting = threading.Thread(target=lambda: leased.append(pool.lease()))
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive() and leased == []  # still waiting for the recycle
        gated.gate.set()
        waiting.join(10)
        assert [vhost.name for vhost in leased] == [first.name]
        assert vhost_state(node, first.name) == AS_NEW
    finally:
        gated.gate.set()
        pool.close()


def test_a_vhost_whose_recycle_failed_is_never_leased_again(
    rabbitmq_with_management: LocalRabbitMQWithManagement,
) -> None:
    node = rabbitmq_with_management
    gated = GatedAdmin(ShellVhosts(node.shell))
    gated.gate.set()
    gated.fail_next = True
    pool = VhostPool(gated, minimum=1)
    first = pool.lease()
    pool.give_back(first)
    second = pool.lease()
    assert second.name != first.name
    assert [type(error) for error in pool.failures] == [ConnectionError]
    pool.close()
    for vhost in (first, second):
        assert on_node(node, vhost.name, "rabbit_vhost:exists(V)") == "false"
    assert {first.login.username, second.login.username} & set(users(node)) == set()
