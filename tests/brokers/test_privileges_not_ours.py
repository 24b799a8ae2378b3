"""Least privilege on RabbitMQ brokers pytest-ipc does not own: users made through the broker's own
administration (the management API of an external broker, ``rabbitmqctl`` in a container), evidence
read off the wire by a recorder per user. A correct service passes; one that needs more is caught
naming the refused operation; an over-privileged one is caught naming the grant to narrow.

Without Docker, the recorder is proven on the session's RabbitMQ seen as an external broker (users
made through its Erlang shell, the same calls the local backend makes); with Docker, on a container
of local/rabbitmq:debian (management plugin on), through both ways of administering it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pika
import pika.exceptions
import pytest

from pytest_ipc import docker_engine
from pytest_ipc._errors import IpcUsageError
from pytest_ipc.backends.broker_container import ContainerBroker
from pytest_ipc.backends.broker_external import ExternalBroker
from pytest_ipc.brokers import rabbitmq
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import LeastPrivilegeError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.privileges import BrokerUser, assert_least_privilege
from pytest_ipc.brokers.rabbitmq_admin import ACTING_USER, ErlangShell
from pytest_ipc.brokers.rabbitmq_users import erlang_bytes
from pytest_ipc.brokers.rabbitmq_wire_users import WireRecordedUsers
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.brokers.tls import ClientTls
from pytest_ipc.tls import CertificateAuthority

IMAGE = os.environ.get("PYTEST_IPC_RABBITMQ_IMAGE", "local/rabbitmq:debian")


class ShellAdmin:
    """Users through a local node's Erlang shell: the external path's admin, without an HTTP API."""

    def __init__(self, shell: ErlangShell) -> None:
        self.shell = shell

    def _evaluate(self, body: str) -> None:
        self.shell.evaluate(f"Actor = {erlang_bytes(ACTING_USER)}, {body}")

    def add_user(self, username: str, password: str) -> None:
        self._evaluate(f"ok = rabbit_auth_backend_internal:add_user({erlang_bytes(username)}, {erlang_bytes(password)}, Actor).")

    def set_permissions(self, vhost: str, username: str, configure: str, write: str, read: str) -> None:
        patterns = ", ".join(erlang_bytes(pattern) for pattern in (configure, write, read))
        self._evaluate(
            f"ok = rabbit_auth_backend_internal:set_permissions({erlang_bytes(username)}, {erlang_bytes(vhost)}, {patterns}, Actor)."
        )

    def delete_user(self, username: str) -> None:
        self._evaluate(f"rabbit_auth_backend_internal:delete_user({erlang_bytes(username)}, Actor), ok.")


def channel_of(user: BrokerUser) -> tuple[pika.BlockingConnection, pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(user.url))
    return connection, connection.channel()


def consumer_service(user: BrokerUser, queue: str, *, also_audit: str | None = None) -> bytes:
    """Declares its queue and takes one message; `also_audit` makes it publish a copy (more than a consumer needs)."""
    connection, channel = channel_of(user)
    try:
        channel.queue_declare(queue)
        method, _, body = next(channel.consume(queue, inactivity_timeout=5))
        assert method is not None
        channel.basic_ack(method.delivery_tag)
        if also_audit is not None:
            channel.basic_publish("", also_audit, body)
            channel.queue_declare(queue, passive=True)  # a round trip: the broker's refusal closed the channel
        return body
    finally:
        if connection.is_open:
            connection.close()


def publisher_service(user: BrokerUser, queue: str, body: bytes) -> None:
    connection, channel = channel_of(user)
    try:
        channel.basic_publish("", queue, body)
    finally:
        connection.close()


def check_the_three_services(handle: IsolatedBroker) -> None:
    """The same verdicts as on a broker pytest-ipc started, from the wire instead of the node's log."""
    orders = handle.name("orders")
    consumer = handle.user("orders-consumer", consume=["orders"])
    publisher = handle.user("orders-publisher", publish=[""])
    assert consumer.endpoint.port != handle.endpoint.port  # it connects through its recorder
    channel_of(consumer)[0].close()
    connection, channel = channel_of(consumer)
    channel.queue_declare(orders)
    connection.close()
    publisher_service(publisher, orders, b"order-1")
    assert consumer_service(consumer, orders) == b"order-1"
    reports = assert_least_privilege(consumer, publisher)
    assert sorted(str(operation) for operation in reports[0].used) == [
        f"configure on queue {orders!r} (queue.declare)",
        f"read on queue {orders!r} (basic.consume)",
    ]
    assert [str(operation) for operation in reports[1].used] == ["write on exchange 'amq.default' (basic.publish)"]

    greedy = handle.user("greedy-consumer", consume=["orders"])
    publisher_service(publisher, orders, b"order-2")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
        consumer_service(greedy, orders, also_audit=handle.name("audit"))
    with pytest.raises(LeastPrivilegeError) as caught:
        assert_least_privilege(greedy)
    message = str(caught.value)
    assert "was refused 1 operation(s) its service tried" in message
    assert "write on exchange 'amq.default' (basic.publish): granted write '', which does not cover 'amq.default'" in message

    wide = handle.user("wide-consumer", read=".*", configure=".*")
    publisher_service(publisher, orders, b"order-3")
    assert consumer_service(wide, orders) == b"order-3"
    with pytest.raises(LeastPrivilegeError) as caught:
        assert_least_privilege(wide)
    assert f"read '.*': used only for {orders!r}; narrow it to" in str(caught.value)


@pytest.fixture
def wire_recorded(rabbitmq_server: BrokerServer) -> Iterator[IsolatedBroker]:
    """The session's RabbitMQ as an external broker whose users are recorded on the wire."""
    runtime = rabbitmq_server.runtime
    shell: ErlangShell = runtime.shell  # type: ignore[attr-defined]  # the local node's
    backend = ExternalBroker(
        "rabbitmq", rabbitmq_server.url, rabbitmq.external_isolation, "a test", users=lambda endpoint: WireRecordedUsers(ShellAdmin(shell))
    )
    server = BrokerServer(backend.start(), "external", "wire")
    handle = server.isolate().open()
    try:
        yield handle
    finally:
        handle.close()
        server.close()


def test_the_wire_recorder_judges_like_the_node_log(wire_recorded: IsolatedBroker) -> None:
    check_the_three_services(wire_recorded)


def test_an_external_rabbitmq_without_its_management_api_says_how_to_give_it(rabbitmq_server: BrokerServer) -> None:
    backend = ExternalBroker("rabbitmq", rabbitmq_server.url, rabbitmq.external_isolation, "a test", users=rabbitmq.external_users)
    server = BrokerServer(backend.start(), "external", "nomgmt")
    handle = server.isolate().open()
    try:
        with pytest.raises(
            IpcUsageError, match=r"made through its management API: add its port to --ipc-rabbitmq-url \(.*\?management=15672"
        ):
            handle.user("orders-consumer", consume=["orders"])
    finally:
        handle.close()
        server.close()


def test_users_are_gone_after_the_test(rabbitmq_server: BrokerServer) -> None:
    runtime = rabbitmq_server.runtime
    shell: ErlangShell = runtime.shell  # type: ignore[attr-defined]
    backend = ExternalBroker(
        "rabbitmq", rabbitmq_server.url, rabbitmq.external_isolation, "a test", users=lambda endpoint: WireRecordedUsers(ShellAdmin(shell))
    )
    server = BrokerServer(backend.start(), "external", "gone")
    handle = server.isolate().open()
    try:
        user = handle.user("orders-consumer", consume=["orders"])
        channel_of(user)[0].close()
    finally:
        handle.close()
        server.close()
    with pytest.raises(pika.exceptions.AMQPConnectionError):  # its recorder is gone, and so is the login
        channel_of(user)
    direct = pika.URLParameters(user.url)
    direct.port = rabbitmq_server.endpoint.port
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(direct)


# -- on a container: rabbitmqctl inside it, and its management API as an external broker's ----------


@pytest.fixture(scope="module")
def rabbitmq_container() -> Iterator[ContainerBroker]:
    if (reason := docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(IMAGE)) is not None:
        pytest.skip(reason)
    container = ContainerBroker(
        "rabbitmq",
        rabbitmq.container_recipe(IMAGE, management=True),
        rabbitmq.external_isolation,
        users=rabbitmq.external_users,
        container_users=rabbitmq.container_users,
    ).start()
    try:
        yield container
    finally:
        container.stop()


def _handle_on(server: BrokerServer) -> Callable[[], Iterator[IsolatedBroker]]:
    def opened() -> Iterator[IsolatedBroker]:
        handle = server.isolate().open()
        try:
            yield handle
        finally:
            handle.close()
            server.close()

    return opened


@pytest.mark.docker
@pytest.mark.slow  # a RabbitMQ container with its management plugin: 10-30 s to start
def test_users_in_a_container_are_made_with_rabbitmqctl(rabbitmq_container: ContainerBroker) -> None:
    for handle in _handle_on(BrokerServer(rabbitmq_container, "container", "ctl"))():
        check_the_three_services(handle)


@pytest.mark.docker
@pytest.mark.slow
def test_users_on_an_external_broker_are_made_through_its_management_api(rabbitmq_container: ContainerBroker) -> None:
    endpoint: BrokerEndpoint = rabbitmq_container.endpoint
    url = f"amqp://guest:guest@{endpoint.host}:{endpoint.port}/?management={endpoint.extra_ports['management']}"
    backend = ExternalBroker("rabbitmq", url, rabbitmq.external_isolation, "a test", users=rabbitmq.external_users)
    for handle in _handle_on(BrokerServer(backend.start(), "external", "mgmt"))():
        check_the_three_services(handle)


def test_a_tls_url_cannot_be_recorded_and_says_so(rabbitmq_server: BrokerServer, ipc_tls_ca: CertificateAuthority) -> None:
    if rabbitmq_server.tls is None:
        pytest.skip("the session's RabbitMQ has no TLS listener (--ipc-rabbitmq-tls)")
    shell: ErlangShell = rabbitmq_server.runtime.shell  # type: ignore[attr-defined]
    endpoint = rabbitmq_server.endpoint
    url = f"amqps://{endpoint.username}:{endpoint.password}@localhost:{endpoint.extra_ports['tls']}"
    certificate = ipc_tls_ca.client_certificate()
    files = ClientTls(ipc_tls_ca.bundle_path, certificate.cert_path, certificate.key_path)
    admin = ShellAdmin(shell)
    backend = ExternalBroker(
        "rabbitmq", url, rabbitmq.external_isolation, "a test", users=lambda endpoint: WireRecordedUsers(admin), client_tls=files
    )
    server = BrokerServer(backend.start(), "external", "tlsrec")
    handle = server.isolate().open()
    try:
        with pytest.raises(IpcUsageError, match=r"recorded on the wire, which TLS hides: give the broker's plaintext AMQP URL"):
            handle.user("orders-consumer", consume=["orders"])
    finally:
        handle.close()
        server.close()
