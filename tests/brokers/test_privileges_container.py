"""Least privilege on NATS and Mosquitto containers: the plugin starts them on config files in a host
directory mounted into the container, so per-test users are the local backend's (`nats_users`,
`mqtt_users`): written into those files, reloaded by SIGHUP to the container, judged from the log
the broker writes next to them. A correct service passes; one refused an action is caught naming it;
an over-privileged one is caught naming the grant to narrow; the logins are gone after the test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ipc import docker_engine
from pytest_ipc.backends.broker_container import ContainerBroker
from pytest_ipc.brokers.endpoint import BrokerKind
from pytest_ipc.brokers.errors import LeastPrivilegeError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.kinds import KINDS
from pytest_ipc.brokers.privileges import assert_least_privilege
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.brokers.tls import ListenerTls
from pytest_ipc.tls import CertificateAuthority
from tests.brokers.privilege_services import logs_in, mqtt_service, nats_service

pytestmark = pytest.mark.docker

IMAGES: dict[BrokerKind, str] = {
    "nats": os.environ.get("PYTEST_IPC_NATS_IMAGE", "local/nats:debian"),
    "mqtt": os.environ.get("PYTEST_IPC_MQTT_IMAGE", "local/mosquitto:debian"),
}


def container_of(kind: BrokerKind) -> Iterator[ContainerBroker]:
    """The kind's container as the container backend makes it (`services.py`)."""
    if (reason := docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(IMAGES[kind])) is not None:
        pytest.skip(reason)
    spec = KINDS[kind]
    container = ContainerBroker(kind, spec.container(IMAGES[kind]), spec.external_isolation, users=spec.external_users)
    container.start()
    try:
        yield container
    finally:
        container.stop()


@pytest.fixture(scope="module")
def nats_container() -> Iterator[ContainerBroker]:
    yield from container_of("nats")


@pytest.fixture(scope="module")
def mqtt_container() -> Iterator[ContainerBroker]:
    yield from container_of("mqtt")


def handle_on(container: ContainerBroker) -> Iterator[IsolatedBroker]:
    server = BrokerServer(container, "container", "users")
    handle = server.isolate().open()
    try:
        yield handle
    finally:
        handle.close()
        server.close()


@pytest.fixture
def nats_handle(nats_container: ContainerBroker) -> Iterator[IsolatedBroker]:
    yield from handle_on(nats_container)


@pytest.fixture
def mqtt_handle(mqtt_container: ContainerBroker) -> Iterator[IsolatedBroker]:
    yield from handle_on(mqtt_container)


class TestNatsContainer:
    def test_a_service_that_uses_exactly_what_it_was_given_passes(self, nats_handle: IsolatedBroker) -> None:
        publisher = nats_handle.user("orders-publisher", publish=["orders.created"])
        consumer = nats_handle.user("orders-consumer", consume=["orders.*"])
        subject = nats_handle.name("orders.created")
        assert asyncio.run(nats_service(consumer, [nats_handle.name("orders.*")], [])) == []
        assert asyncio.run(nats_service(publisher, [], [subject])) == []
        reports = assert_least_privilege(publisher, consumer)
        assert [str(operation) for operation in reports[0].used] == [f"publish on subject {subject!r} (PUB)"]
        assert [str(operation) for operation in reports[1].used] == [f"subscribe on subject {nats_handle.name('orders.*')!r} (SUB)"]

    def test_a_service_refused_an_action_is_caught_naming_it(self, nats_handle: IsolatedBroker) -> None:
        publisher = nats_handle.user("orders-publisher", publish=["orders.created"])
        audit = nats_handle.name("audit.orders")
        errors = asyncio.run(nats_service(publisher, [], [nats_handle.name("orders.created"), audit]))
        assert any("permissions violation" in error.lower() for error in errors), errors  # the server refused it
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(publisher)
        message = str(caught.value)
        assert "was refused 1 operation(s) its service tried" in message
        assert f"publish on subject {audit!r} (PUBLISH): granted publish {nats_handle.name('orders.created')!r}" in message

    def test_an_over_privileged_consumer_is_caught_naming_the_grant_to_narrow(self, nats_handle: IsolatedBroker) -> None:
        consumer = nats_handle.user("orders-consumer", consume=[">"])
        subject = nats_handle.name("orders.created")
        assert asyncio.run(nats_service(consumer, [subject], [])) == []
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        assert f"subscribe {nats_handle.name('>')!r}: used only for {subject!r}; narrow it to {subject!r}" in str(caught.value)


class TestMosquittoContainer:
    def test_a_service_that_uses_exactly_what_it_was_given_passes(self, mqtt_handle: IsolatedBroker) -> None:
        publisher = mqtt_handle.user("orders-publisher", publish=["orders/created"])
        consumer = mqtt_handle.user("orders-consumer", consume=["orders/+"])
        assert mqtt_service(consumer, [mqtt_handle.name("orders/+")], []) == [1]
        mqtt_service(publisher, [], [mqtt_handle.name("orders/created")])
        reports = assert_least_privilege(publisher, consumer)
        assert [str(operation) for operation in reports[0].used] == [
            f"write on topic {mqtt_handle.name('orders/created')!r} (PUBLISH)"
        ]

    def test_a_service_refused_an_action_is_caught_naming_it(self, mqtt_handle: IsolatedBroker) -> None:
        publisher = mqtt_handle.user("orders-publisher", publish=["orders/created"])
        audit = mqtt_handle.name("audit/orders")
        mqtt_service(publisher, [], [mqtt_handle.name("orders/created"), audit])  # Mosquitto drops the denied one
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(publisher)
        message = str(caught.value)
        assert "was refused 1 operation(s) its service tried" in message
        assert f"write on topic {audit!r} (PUBLISH): granted write {mqtt_handle.name('orders/created')!r}" in message

    def test_an_over_privileged_consumer_is_caught_naming_the_grant_to_narrow(self, mqtt_handle: IsolatedBroker) -> None:
        consumer = mqtt_handle.user("orders-consumer", consume=["#"], publish=["orders/done"])
        topic = mqtt_handle.name("orders/created")
        mqtt_service(consumer, [topic], [])
        with pytest.raises(LeastPrivilegeError) as caught:
            assert_least_privilege(consumer)
        message = str(caught.value)
        assert f"read {mqtt_handle.name('#')!r}: used only for {topic!r}; narrow it to {topic!r}" in message
        assert f"write {mqtt_handle.name('orders/done')!r}: never used; remove it" in message


@pytest.mark.parametrize("kind", ["nats", "mqtt"])
def test_users_are_gone_after_the_test(
    kind: BrokerKind, request: pytest.FixtureRequest
) -> None:
    container: ContainerBroker = request.getfixturevalue(f"{kind}_container")
    handles = handle_on(container)
    handle = next(handles)
    user = handle.user("orders-consumer", consume=["orders"])
    assert logs_in(user)
    handles.close()  # the test's teardown
    assert not logs_in(user)
    assert logs_in_anonymously(container)  # the broker itself still serves clients without a login


def logs_in_anonymously(container: ContainerBroker) -> bool:
    from pytest_ipc.brokers.mqtt import login_accepted
    from pytest_ipc.brokers.nats import NatsRequester

    endpoint = container.endpoint
    if endpoint.kind == "nats":
        NatsRequester(endpoint).close()
        return True
    return login_accepted(endpoint)


def test_the_config_directory_goes_with_the_container() -> None:
    """The backend's, whatever the kind: one kind proves it."""
    containers = container_of("mqtt")
    container = next(containers)
    directory = container._config_dir
    assert directory is not None and any(directory.iterdir())
    containers.close()
    assert not Path(directory).exists()


@pytest.mark.slow  # a container of its own
def test_users_of_a_nats_container_over_tls_keep_its_tls_across_reloads(ipc_tls_ca: CertificateAuthority) -> None:
    """The reloaded config keeps the TLS section (mounted certificate paths): users log in over TLS."""
    if (reason := docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(IMAGES["nats"])) is not None:
        pytest.skip(reason)
    tls, spec = ListenerTls.issue(ipc_tls_ca, mutual=True), KINDS["nats"]
    container = ContainerBroker("nats", spec.container_tls(IMAGES["nats"], tls), spec.external_isolation, tls=tls).start()
    try:
        for handle in handle_on(container):
            publisher = handle.user("orders-publisher", publish=["orders.created"])
            created, audit = handle.name("orders.created"), handle.name("audit.orders")
            assert asyncio.run(nats_service(publisher, [], [created], tls=tls.client_context())) == []
            assert_least_privilege(publisher)
            asyncio.run(nats_service(publisher, [], [audit], tls=tls.client_context()))
            with pytest.raises(LeastPrivilegeError, match=rf"publish on subject '{audit}' \(PUBLISH\): granted publish '{created}'"):
                assert_least_privilege(publisher)
    finally:
        container.stop()
