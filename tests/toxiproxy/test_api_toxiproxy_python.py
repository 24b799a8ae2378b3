"""The unchanged `toxiproxy-python` client drives the embedded server end to end."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from pytest_ipc._net import LOOPBACK, free_port, split_host_port
from pytest_ipc.toxiproxy import EmbeddedToxiproxy


@pytest.fixture
def toxiproxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Toxiproxy]:
    """The client pointed at a private server; its host and port are class attributes, so restore them."""
    with EmbeddedToxiproxy() as server:
        monkeypatch.setattr(APIConsumer, "host", server.host)
        monkeypatch.setattr(APIConsumer, "port", server.port)
        yield Toxiproxy()


def connect(proxy: Any) -> socket.socket:
    client = socket.create_connection(split_host_port(proxy.listen), timeout=5)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def test_server_identity(toxiproxy: Toxiproxy) -> None:
    assert toxiproxy.running()
    assert toxiproxy.version() == b'{"version": "2.12.0"}\n'


def test_create_list_get_and_destroy(toxiproxy: Toxiproxy, echo_server: Any, wire: Any) -> None:
    proxy = toxiproxy.create(upstream=echo_server.address, name="db")
    assert (proxy.name, proxy.upstream, proxy.enabled) == ("db", echo_server.address, True)
    with connect(proxy) as client:
        wire.round_trip(client)
    assert list(toxiproxy.proxies()) == ["db"]
    assert toxiproxy.get_proxy("db").listen == proxy.listen
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=echo_server.address, name="db")
    with pytest.raises(ProxyExists):  # the server's 409, not the client's own check
        APIConsumer.post("/proxies", json={"name": "db", "upstream": echo_server.address})
    assert toxiproxy.destroy(proxy) is True
    assert toxiproxy.proxies() == {}
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/db")


def test_toxics_round_trip(toxiproxy: Toxiproxy, echo_server: Any, wire: Any) -> None:
    proxy = toxiproxy.create(upstream=echo_server.address, name="db")
    proxy.add_toxic(type="latency", attributes={"latency": 250})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="narrow", toxicity=0.5, attributes={"rate": 1000})
    toxics = proxy.toxics()
    assert list(toxics) == ["narrow", "latency_downstream"]
    latency = proxy.get_toxic("latency_downstream")
    assert (latency.type, latency.stream, latency.toxicity, latency.attributes) == (
        "latency",
        "downstream",
        1,
        {"latency": 250, "jitter": 0},
    )
    assert toxics["narrow"].toxicity == 0.5
    with connect(proxy) as client:
        assert wire.round_trip(client) >= 0.24
        assert proxy.destroy_toxic("latency_downstream") is True
        assert wire.round_trip(client) < 0.2
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="down")


def test_down_closes_the_proxy_for_the_block(toxiproxy: Toxiproxy, echo_server: Any, wire: Any) -> None:
    proxy = toxiproxy.create(upstream=echo_server.address, name="db")
    with proxy.down():
        assert toxiproxy.get_proxy("db").enabled is False
        with pytest.raises(ConnectionRefusedError):
            connect(proxy)
    assert toxiproxy.get_proxy("db").enabled is True
    with connect(proxy) as client:
        wire.round_trip(client)


def test_populate_reset_and_destroy_all(toxiproxy: Toxiproxy, echo_server: Any, wire: Any) -> None:
    entries = [
        {"name": f"p{index}", "upstream": echo_server.address, "listen": f"{LOOPBACK}:{free_port()}"}
        for index in range(2)
    ]
    created = toxiproxy.populate(entries)
    assert [proxy.name for proxy in created] == ["p0", "p1"]
    assert toxiproxy.populate(entries) == []  # unchanged proxies are kept, so nothing is created
    proxy = toxiproxy.get_proxy("p0")
    proxy.add_toxic(type="timeout")
    proxy.disable()
    assert toxiproxy.reset() is True
    assert toxiproxy.get_proxy("p0").enabled is True
    assert proxy.toxics() == {}
    with connect(proxy) as client:
        wire.round_trip(client)
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}
