"""Redis as a fixture: a real server, a key prefix per test, leftovers removed, crash controls."""

from __future__ import annotations

import socket

import pytest
import redis

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import BrokerServer


def client_for(handle: IsolatedBroker) -> redis.Redis:
    return redis.Redis.from_url(handle.url, socket_timeout=5)


def test_round_trip_with_a_real_client(redis_broker: IsolatedBroker) -> None:
    with client_for(redis_broker) as client:
        client.rpush(redis_broker.name("jobs"), b"job-1")
        assert client.blpop([redis_broker.name("jobs")], timeout=5) == (
            redis_broker.name("jobs").encode(),
            b"job-1",
        )
    assert redis_broker.name("jobs") == f"{redis_broker.namespace}:jobs"


def test_credentials_are_required(redis_server: BrokerServer) -> None:
    endpoint = redis_server.endpoint
    if endpoint.password is None:
        pytest.skip("this Redis has no password to check")
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as anonymous:
        anonymous.sendall(b"PING\r\n")
        assert anonymous.recv(100).startswith(b"-NOAUTH")


def test_tests_are_isolated_and_leftovers_removed(redis_server: BrokerServer) -> None:
    first, second = redis_server.isolate().open(), redis_server.isolate().open()
    with client_for(first) as client:
        for number in range(1200):  # more than one SCAN page and one UNLINK batch
            client.set(first.name(f"key-{number}"), number)
        client.set(second.name("key-0"), "theirs")
        assert client.get(second.name("key-0")) == b"theirs"
        assert first.name("key-0") != second.name("key-0")
        first.close()
        assert list(client.scan_iter(match=f"{first.namespace}:*")) == []
        assert client.get(second.name("key-0")) == b"theirs"
        second.close()
        assert client.exists(second.name("key-0")) == 0


def test_data_survives_a_kill_and_a_restart(redis_server: BrokerServer, redis_broker: IsolatedBroker) -> None:
    if redis_server.backend != "local":
        pytest.skip("only the local backend configures Redis to persist (append-only file)")
    key = redis_broker.name("durable")
    with client_for(redis_broker) as client:
        client.set(key, "kept")
    with redis_server.killed(), client_for(redis_broker) as client:
        try:
            client.ping()
        except redis.ConnectionError:
            pass
        else:
            raise AssertionError("Redis answered while killed")
    with client_for(redis_broker) as client:
        assert client.get(key) == b"kept"  # the append-only file outlived the crash
    recovery = redis_server.restart()
    assert recovery < 30
    with client_for(redis_broker) as client:
        assert client.get(key) == b"kept"
