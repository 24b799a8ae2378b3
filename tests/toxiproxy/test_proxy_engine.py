"""The proxy without faults: listening, forwarding, closing, stop/start, counters, backpressure."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_ipc._net import LOOPBACK
from pytest_ipc.toxiproxy.link import BACKLOG_HIGH
from pytest_ipc.toxiproxy.model import ToxicConfig
from pytest_ipc.toxiproxy.proxy import ListenError

if TYPE_CHECKING:
    from conftest import ProxyDriver, SinkServer, TcpServer, Wire

MB = 1024 * 1024


def test_start_reports_the_bound_port_and_echoes(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    host, port = echo_proxy.address  # created as 127.0.0.1:0
    assert echo_proxy.proxy.enabled
    assert host == LOOPBACK and port != 0
    with echo_proxy.connect() as client:
        assert wire.round_trip(client, b"hello") < 1.0


def test_localhost_listen_is_reported_as_ip(make_proxy: Callable[..., ProxyDriver], echo_server: TcpServer) -> None:
    driver = make_proxy(echo_server.address, listen="localhost:0")
    assert driver.proxy.listen.startswith(f"{LOOPBACK}:")


def test_listen_on_a_taken_port_raises_a_go_worded_error(
    make_proxy: Callable[..., ProxyDriver], echo_server: TcpServer
) -> None:
    with pytest.raises(ListenError) as raised:
        make_proxy(echo_server.address, listen=echo_server.address)
    assert isinstance(raised.value, OSError)
    assert str(raised.value) == f"listen tcp {echo_server.address}: bind: address already in use"


def test_toxics_list_upstream_chain_first_and_reject_bad_input(echo_proxy: ProxyDriver) -> None:
    echo_proxy.add("latency", latency=10)
    echo_proxy.add("slicer", stream="upstream")
    echo_proxy.add("timeout", name="second_downstream")
    names = [toxic.name for toxic in echo_proxy.proxy.list_toxics()]
    assert names == ["slicer_upstream", "latency_downstream", "second_downstream"]
    assert echo_proxy.proxy.get_toxic("slicer_upstream") is echo_proxy.proxy.list_toxics()[0]
    assert echo_proxy.proxy.get_toxic("nope") is None
    with pytest.raises(ValueError, match="already has a toxic named 'latency_downstream'"):
        echo_proxy.add("latency")
    with pytest.raises(ValueError, match="invalid toxic type 'down'; valid types: latency, bandwidth"):
        echo_proxy.loop.run(echo_proxy.proxy.add_toxic(ToxicConfig("down", "down")))
    assert [toxic.name for toxic in echo_proxy.proxy.list_toxics()] == names


def test_client_eof_closes_the_upstream_connection(
    make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer], wire: type[Wire]
) -> None:
    server_saw: list[bytes] = []
    done = threading.Event()

    def record(connection: socket.socket) -> None:
        server_saw.append(wire.recv_until_eof(connection))
        done.set()

    driver = make_proxy(tcp_server(record).address)
    with driver.connect() as client:
        client.sendall(b"request")
        client.shutdown(socket.SHUT_WR)
        assert done.wait(5)
        assert client.recv(10) == b""  # no half-close: the client's side is closed too
    assert server_saw == [b"request"]


def test_upstream_eof_closes_the_client_after_delivering_its_data(
    make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer], wire: type[Wire]
) -> None:
    payload = os.urandom(3 * MB)
    driver = make_proxy(tcp_server(lambda connection: connection.sendall(payload)).address)
    with driver.connect() as client:
        assert wire.recv_until_eof(client) == payload


def test_unreachable_upstream_accepts_then_closes(make_proxy: Callable[..., ProxyDriver]) -> None:
    with socket.create_server((LOOPBACK, 0)) as unused:
        dead_address = f"{LOOPBACK}:{unused.getsockname()[1]}"
    driver = make_proxy(dead_address)
    with driver.connect() as client:
        assert client.recv(10) == b""
    assert driver.proxy.counters.upstream_failures == 1


def test_stop_closes_live_connections_refuses_new_ones_and_start_keeps_the_port(
    echo_proxy: ProxyDriver, wire: type[Wire]
) -> None:
    address = echo_proxy.address
    echo_proxy.add("latency", latency=1)
    client = echo_proxy.connect()
    wire.round_trip(client)
    echo_proxy.stop()
    assert not echo_proxy.proxy.enabled
    with contextlib.suppress(ConnectionResetError):  # FIN or RST, as with Toxiproxy
        assert client.recv(10) == b""
    client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5)
    echo_proxy.start()
    assert echo_proxy.address == address
    assert [toxic.name for toxic in echo_proxy.proxy.list_toxics()] == ["latency_downstream"]
    with echo_proxy.connect() as client:
        wire.round_trip(client)
    assert echo_proxy.proxy.counters.connections_accepted == 2


@pytest.mark.parametrize("direction", ["upstream", "downstream"])
def test_multi_megabyte_stream_arrives_intact(
    direction: str,
    make_proxy: Callable[..., ProxyDriver],
    sink_server: SinkServer,
    tcp_server: Callable[..., TcpServer],
    wire: type[Wire],
) -> None:
    payload = os.urandom(16 * MB)
    if direction == "upstream":
        driver = make_proxy(sink_server.address)
        with driver.connect() as client:
            client.sendall(payload)
        received = sink_server.result()
        assert (received.size, received.sha256) == (len(payload), hashlib.sha256(payload).hexdigest())
    else:
        driver = make_proxy(tcp_server(lambda connection: connection.sendall(payload)).address)
        with driver.connect() as client:
            assert hashlib.sha256(wire.recv_until_eof(client)).digest() == hashlib.sha256(payload).digest()


def test_counters_and_live_connections(echo_proxy: ProxyDriver, echo_server: TcpServer, wire: type[Wire]) -> None:
    client = echo_proxy.connect()
    wire.round_trip(client, b"x" * 1000)
    [connection] = echo_proxy.call(echo_proxy.proxy.live_connections)
    assert connection == {"client": "{}:{}".format(*client.getsockname()), "upstream": echo_server.address}
    counters = echo_proxy.call(echo_proxy.proxy.counters.to_json)
    assert counters == {
        "connections_accepted": 1,
        "connections_active": 1,
        "upstream_failures": 0,
        "tls_client_hellos": 0,  # the client's first byte is not a TLS handshake record
        "tls_fault_activations": 0,  # a pass-through proxy performs no TLS fault
        "bytes": {
            "upstream": {"received": 1000, "sent": 1000},
            "downstream": {"received": 1000, "sent": 1000},
        },
        "toxics": {},
    }
    client.close()
    wire.wait_until(lambda: echo_proxy.proxy.counters.connections_active == 0)
    assert echo_proxy.call(echo_proxy.proxy.live_connections) == []


def test_a_slow_reader_pauses_the_sender(
    make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer]
) -> None:
    """Neither a slow toxic nor the fast path buffers without bound when the far side is slow."""
    release = threading.Event()
    driver = make_proxy(tcp_server(lambda connection: release.wait(10)).address)
    driver.add("bandwidth", stream="upstream", rate=1)  # 1 KB/s: the stage holds what it is given
    counters = driver.proxy.counters
    with driver.connect() as client:
        client.setblocking(False)
        push_for(client, 1.0)
        assert counters.bytes_received("upstream") - counters.bytes_sent("upstream") <= BACKLOG_HIGH + MB
        driver.remove("bandwidth_upstream")  # the idle server's socket buffer fills; then the proxy pauses
        push_for(client, 1.0)
        assert counters.bytes_sent("upstream") > BACKLOG_HIGH // 2
        assert counters.bytes_received("upstream") < 64 * MB  # unthrottled it would read GBs per second
        release.set()


def push_for(client: socket.socket, seconds: float) -> int:
    """Send as fast as the (non-blocking) socket accepts for `seconds`; returns the bytes sent."""
    chunk, deadline, sent = b"x" * 65536, time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        try:
            sent += client.send(chunk)
        except BlockingIOError:
            time.sleep(0.005)
    return sent


@pytest.fixture
def hanging_upstream() -> Iterator[str]:
    """An upstream whose accept queue is full: it swallows SYNs, so a connect to it hangs."""
    with socket.socket() as stuck:
        stuck.bind((LOOPBACK, 0))
        stuck.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(stuck.getsockname())
        yield "{}:{}".format(*stuck.getsockname())
        for filler in fillers:
            filler.close()


def test_the_client_is_not_read_ahead_while_the_upstream_connect_hangs(
    make_proxy: Callable[..., ProxyDriver], hanging_upstream: str, wire: type[Wire]
) -> None:
    """Until the upstream answers its bytes have nowhere to go: the proxy holds one read, not the stream."""
    driver = make_proxy(hanging_upstream)
    with driver.connect() as client:
        wire.wait_until(lambda: driver.proxy.counters.connections_active == 1)
        client.setblocking(False)
        assert push_for(client, 0.5) < 64 * MB  # read ahead, the proxy would take GBs per second


def test_stop_while_the_upstream_connect_hangs(
    make_proxy: Callable[..., ProxyDriver], hanging_upstream: str, wire: type[Wire]
) -> None:
    """stop() must not wait for an upstream connect that hangs."""
    driver = make_proxy(hanging_upstream)
    with driver.connect() as client:
        wire.wait_until(lambda: driver.proxy.counters.connections_active == 1)
        assert [connection["upstream"] for connection in driver.call(driver.proxy.live_connections)] == [None]
        started = time.monotonic()
        driver.stop()
        assert time.monotonic() - started < 1.0
        with contextlib.suppress(ConnectionResetError):
            assert client.recv(10) == b""
    assert driver.proxy.counters.connections_active == 0


# -- sources cut off (in process only: a cluster's peers sharing one proxy) ------------------------
def connect_from(driver: ProxyDriver, source: str) -> socket.socket:
    """A client of the proxy dialling from loopback address `source` (all of 127.0.0.0/8 is local)."""
    client = socket.create_connection(driver.address, timeout=2.0, source_address=(source, 0))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def test_a_refused_source_is_reset_now_and_on_arrival_while_the_others_pass(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    cut, other = "127.0.2.1", "127.0.2.2"
    with connect_from(echo_proxy, cut) as live, connect_from(echo_proxy, other) as passing:
        wire.round_trip(live)
        echo_proxy.loop.run(echo_proxy.proxy.cut_source(cut, "refuse"))
        with pytest.raises(ConnectionResetError):
            live.recv(10)
        with pytest.raises((ConnectionResetError, BrokenPipeError)), connect_from(echo_proxy, cut) as arriving:
            arriving.sendall(b"ping")  # the reset may come as soon as the connect
            arriving.recv(10)
        assert wire.round_trip(passing) < 1.0  # the source not cut is untouched
    echo_proxy.loop.run(echo_proxy.proxy.mend_source(cut))
    with connect_from(echo_proxy, cut) as mended:
        assert wire.round_trip(mended) < 1.0


def test_a_blackholed_source_loses_its_bytes_until_mended(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    cut = "127.0.2.3"
    with connect_from(echo_proxy, cut) as live, echo_proxy.connect() as passing:
        echo_proxy.loop.run(echo_proxy.proxy.cut_source(cut, "blackhole"))
        live.sendall(b"lost")
        with connect_from(echo_proxy, cut) as arriving:  # a new connection is held the same way
            arriving.sendall(b"lost too")
            wire.assert_silent(arriving, 0.3)
        wire.assert_silent(live, 0.2)
        assert wire.round_trip(passing) < 1.0
        echo_proxy.loop.run(echo_proxy.proxy.mend_source(cut))
        assert wire.round_trip(live, b"back") < 1.0  # the connection carries bytes again; what it sent meanwhile is gone
