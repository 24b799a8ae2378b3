"""Adding, updating and removing toxics while connections are open and bytes are flowing."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import ProxyDriver, SinkServer, Wire

MB = 1024 * 1024


def test_add_update_remove_apply_to_a_live_connection(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    with echo_proxy.connect() as client:
        assert wire.round_trip(client) < 0.09
        echo_proxy.add("latency", latency=100)
        assert 0.09 <= wire.round_trip(client) <= 0.4
        echo_proxy.update("latency_downstream", latency=300)
        assert 0.29 <= wire.round_trip(client) <= 0.8
        echo_proxy.remove("latency_downstream")
        assert wire.round_trip(client) < 0.09
    assert echo_proxy.proxy.counters.toxic("latency_downstream", "latency").activations == 2  # add, update


def test_update_redraws_toxicity(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("latency", toxicity=0, latency=200)
    with echo_proxy.connect() as client:
        assert wire.round_trip(client) < 0.15
        toxic = echo_proxy.update("latency_downstream", toxicity=1)
        assert toxic.attributes == {"latency": 200, "jitter": 0}
        assert wire.round_trip(client) >= 0.19


def test_removing_a_toxic_flushes_what_it_held_in_order(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("latency", latency=2000)
    with echo_proxy.connect() as client:
        for piece in (b"one ", b"two ", b"three"):
            client.sendall(piece)
            time.sleep(0.02)
        time.sleep(0.1)
        started = time.monotonic()
        echo_proxy.remove("latency_downstream")
        assert wire.recv_exactly(client, 13) == b"one two three"
        assert time.monotonic() - started < 1.0


def test_a_connection_made_right_after_add_toxic_gets_it(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    """Upstream #148: connections accepted just after the toxic was created escaped it."""
    for _ in range(15):
        echo_proxy.add("limit_data", bytes=1)
        with echo_proxy.connect() as client:
            client.sendall(b"ab")
            assert wire.recv_exactly(client, 2) == b"a"
        echo_proxy.remove("limit_data_downstream")


def test_stream_stays_intact_while_toxics_come_and_go(
    make_proxy: Callable[..., ProxyDriver], sink_server: SinkServer
) -> None:
    payload = os.urandom(8 * MB)
    driver = make_proxy(sink_server.address)
    piece = 64 * 1024

    def send() -> None:  # paced over ~1 s so that the toxics below meet the stream
        with driver.connect(timeout=30) as client:
            for offset in range(0, len(payload), piece):
                client.sendall(payload[offset : offset + piece])
                time.sleep(0.008)

    sender = threading.Thread(target=send)
    sender.start()
    toxics = [
        ("slicer", {"average_size": 2048, "size_variation": 1024}),
        ("latency", {"latency": 20, "jitter": 10}),
        ("bandwidth", {"rate": 20_000}),
        ("slow_close", {"delay": 10}),
    ]
    rounds = 0
    while sender.is_alive():
        for type, attributes in toxics:
            driver.add(type, stream="upstream", name=f"{type}{rounds}", **attributes)
            time.sleep(0.01)
        driver.update(f"latency{rounds}", latency=5)
        for type, _ in reversed(toxics) if rounds % 2 else toxics:
            driver.remove(f"{type}{rounds}")
            time.sleep(0.01)
        rounds += 1
    sender.join()
    received = sink_server.result()
    assert (received.size, received.sha256) == (len(payload), hashlib.sha256(payload).hexdigest())
    activations = [counters.activations for counters in driver.proxy.counters.toxics.values()]
    assert rounds >= 3 and sum(activations) >= 3 * len(toxics)  # they did act on the live connection


def test_remove_all_toxics_and_stop_with_data_held(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("bandwidth", rate=0)
    echo_proxy.add("timeout", stream="upstream", timeout=0)
    with echo_proxy.connect() as client:
        client.sendall(b"x" * 100_000)
        # unread bytes would turn the proxy's close into a RST
        wire.wait_until(lambda: echo_proxy.proxy.counters.bytes_received("upstream") == 100_000)
        echo_proxy.loop.run(echo_proxy.proxy.remove_all_toxics())
        assert echo_proxy.proxy.list_toxics() == []
        assert client.recv(10) == b""  # removing the timeout closed the connection
    echo_proxy.add("bandwidth", rate=0)
    client = echo_proxy.connect()
    client.sendall(b"x" * 100_000)
    wire.wait_until(lambda: echo_proxy.proxy.counters.bytes_received("downstream") > 0)
    started = time.monotonic()
    echo_proxy.stop()
    assert time.monotonic() - started < 1.0
    assert echo_proxy.proxy.counters.connections_active == 0
    client.close()


def test_connections_are_served_concurrently(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("latency", latency=200)
    times: list[float] = []

    def client_session() -> None:
        with echo_proxy.connect() as client:
            times.append(wire.round_trip(client, os.urandom(1000)))

    started = time.monotonic()
    clients = [threading.Thread(target=client_session) for _ in range(30)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(10)
    assert len(times) == 30 and min(times) >= 0.19
    assert time.monotonic() - started < 2.0  # one after the other would take 6 s
    assert echo_proxy.proxy.counters.toxic("latency_downstream", "latency").activations == 30
