"""No two workers get the same port for their private brokers: ports are reserved from their choice
until the broker stops, and a start that loses a port anyway (to a program that binds fixed ports)
starts again on fresh ones."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_ipc._net import LOOPBACK, free_port
from pytest_ipc.backends import broker_local
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.backends.local import ProcessStartError, reserve_port
from pytest_ipc.brokers.mqtt import LocalMosquitto
from pytest_ipc.brokers.nats import LocalNats
from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ
from pytest_ipc.brokers.redis import LocalRedis
from tests.reliability.sessions import RECORDING_CONFTEST, Session

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

RESERVED = 300
PICKS = 3000


def test_a_reserved_port_is_no_one_elses_free_port_but_its_servers_can_listen_on_it() -> None:
    """With 300 of ~28,000 ephemeral ports reserved, 3,000 unprotected picks would hit about 30."""
    reservations = [reserve_port() for _ in range(RESERVED)]
    try:
        reserved = {reservation.getsockname()[1] for reservation in reservations}
        picked = {free_port() for _ in range(PICKS)}
        assert picked & reserved == set()

        port = reservations[0].getsockname()[1]
        with socket.socket() as plain, pytest.raises(OSError) as refused:
            plain.bind((LOOPBACK, port))  # what a program that ignores reservations gets
        assert refused.value.errno == errno.EADDRINUSE
        with socket.socket() as other_address, pytest.raises(OSError) as refused:
            other_address.bind(("127.0.2.9", port))  # a cluster node's source address is loopback too
        assert refused.value.errno == errno.EADDRINUSE
        with socket.socket() as check:  # RabbitMQ's check of its distribution port before it listens: every address
            check.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            check.bind(("0.0.0.0", port))
            check.listen()
        with socket.socket() as server:  # what a broker does: SO_REUSEADDR, then bind and listen
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((LOOPBACK, port))
            server.listen()
    finally:
        for reservation in reservations:
            reservation.close()


class TakenPort:
    """Stands in for the reservation of a port that a foreign program listens on."""

    def __init__(self, port: int) -> None:
        self.port = port

    def getsockname(self) -> tuple[str, int]:
        return (LOOPBACK, self.port)

    def close(self) -> None:
        pass


@pytest.fixture
def foreign_listener() -> Iterator[socket.socket]:
    """A program that listens on a fixed port without SO_REUSEADDR."""
    with socket.create_server((LOOPBACK, 0)) as listener:
        yield listener


FAST_BROKERS = [(LocalRedis, "main"), (LocalNats, "main"), (LocalNats, "monitor"), (LocalMosquitto, "main")]
# RabbitMQ boots in seconds: only its own way of failing, a port lost while it starts (epmd exits 0
# and says nothing); the check before the start is the same code for every broker.
BROKERS: list[Any] = [
    *[(make, port_name, when) for make, port_name in FAST_BROKERS for when in ("before", "during")],
    pytest.param(LocalRabbitMQ, "amqp", "during", marks=pytest.mark.slow),
    pytest.param(LocalRabbitMQ, "epmd", "during", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("make", "port_name", "when"), BROKERS, ids=lambda value: getattr(value, "kind", value))
def test_a_broker_whose_port_is_taken_starts_again_on_fresh_ports(
    make: Callable[[], LocalBroker],
    port_name: str,
    when: str,
    foreign_listener: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`before`: the port is taken when the start checks; `during`: it is taken after that check,
    while the broker starts (the broker fails to bind, its probe may be fooled)."""
    broker = make()
    if (reason := broker.unavailable_reason()) is not None:
        pytest.skip(reason)
    taken = foreign_listener.getsockname()[1]
    handed_out: list[int] = []
    first_attempt = {name: index for index, name in enumerate(broker.port_names)}

    def reserve() -> socket.socket | TakenPort:
        reservation: socket.socket | TakenPort = reserve_port()
        if len(handed_out) == first_attempt[port_name]:
            reservation.close()
            reservation = TakenPort(taken)
        handed_out.append(reservation.getsockname()[1])
        return reservation

    monkeypatch.setattr(broker_local, "reserve_port", reserve)
    if when == "during":  # the check before the start sees nothing
        real_answering, checks = broker_local.answering, iter([list[int]()])
        monkeypatch.setattr(broker_local, "answering", lambda ports: next(checks, None) or real_answering(ports))
    try:
        broker.start()
        assert handed_out[first_attempt[port_name]] == taken
        # a second attempt on fresh ports (a loaded machine may need the third: another port lost)
        assert len(handed_out) >= 2 * len(broker.port_names), "a second attempt on fresh ports"
        assert taken not in broker.ports.values()
    finally:
        broker.stop()


RACING_TESTS = """
import json, os, pytest
from conftest import record

@pytest.mark.parametrize("n", range(8))
def test_workers_race_for_ports(redis_server, nats_server, mqtt_server, n):
    servers = (redis_server, nats_server, mqtt_server)
    record("ports", ports=[port for server in servers for port in server.runtime.ports.values()])
"""


@pytest.mark.slow
def test_four_workers_starting_brokers_at_once_get_distinct_ports(pytester: pytest.Pytester) -> None:
    local = [f"--ipc-{kind}-backend=local" for kind in ("redis", "nats", "mqtt")]
    session = Session(pytester, RECORDING_CONFTEST, RACING_TESTS, "-n", "4", *local)
    result = session.finish()
    result.assert_outcomes(passed=8)
    by_worker = {record["pid"]: tuple(record["ports"]) for record in session.records_of("ports")}
    assert len(by_worker) == 4, json.dumps(by_worker)
    ports = [port for worker_ports in by_worker.values() for port in worker_ports]
    assert len(ports) == len(set(ports)) == 4 * 4, by_worker


@pytest.mark.parametrize(
    ("log", "in_use"),
    [
        ("# Could not create server TCP listening socket 127.0.0.1:60457: bind: Address already in use", True),
        (
            '[FTL] Error listening on port: 127.0.0.1:6039, "listen tcp 127.0.0.1:6039: bind: address already in use"',
            True,
        ),
        (
            "[FTL] Can't start monitoring: can't listen to the monitor port: listen tcp 127.0.0.1:5323: bind: address already in use",
            True,
        ),
        ("1796292602: Error: Address already in use", True),
        ('{could_not_start_listener,"127.0.0.1",41333,eaddrinuse}', True),
        ("Fatal error, can't open config file '/nonexistent.conf'", False),
    ],
    ids=["redis", "nats", "nats-monitor", "mosquitto", "rabbitmq", "another-failure"],
)
def test_each_brokers_way_of_saying_address_in_use_is_understood(log: str, in_use: bool) -> None:
    assert ProcessStartError(f"broker exited with status 1\n  {log}").address_in_use is in_use
