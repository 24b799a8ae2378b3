"""Each toxic's effect and timing on real sockets, per stream, and toxicity."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ipc._loop import LoopThread
from pytest_ipc.toxiproxy.model import Stream
from pytest_ipc.toxiproxy.toxics import Chunk, now, slicer

if TYPE_CHECKING:
    from conftest import ProxyDriver, SinkServer, TcpServer, Wire

KB = 1000


def source_proxy(make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer], payload: bytes) -> ProxyDriver:
    """A proxy in front of a server that sends `payload` to each connection, then closes."""
    return make_proxy(tcp_server(lambda connection: connection.sendall(payload)).address)


# -- integrity -------------------------------------------------------------------------------------
TOXICS_THAT_KEEP_DATA: dict[str, dict[str, Any]] = {
    "slicer": {"average_size": 1000, "size_variation": 500},
    "latency": {"latency": 10, "jitter": 5},
    "bandwidth": {"rate": 40_000},
}


@pytest.mark.parametrize("types", [["slicer"], ["latency"], ["bandwidth"], ["slicer", "latency", "bandwidth"]])
def test_multi_megabyte_stream_through_toxics_arrives_intact(
    types: list[str], make_proxy: Callable[..., ProxyDriver], sink_server: SinkServer
) -> None:
    payload = os.urandom(4 * 1024 * 1024)
    driver = make_proxy(sink_server.address)
    for type in types:
        driver.add(type, stream="upstream", **TOXICS_THAT_KEEP_DATA[type])
    with driver.connect(timeout=20) as client:
        client.sendall(payload)
    received = sink_server.result()
    assert (received.size, received.sha256) == (len(payload), hashlib.sha256(payload).hexdigest())


# -- latency ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_latency_delays_each_round_trip(stream: Stream, echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    with echo_proxy.connect() as client:
        assert wire.round_trip(client) < 0.25
        echo_proxy.add("latency", stream=stream, latency=300)
        assert 0.29 <= wire.round_trip(client) <= 1.0


def test_latency_is_pipelined_not_cumulative(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("latency", latency=200)
    with echo_proxy.connect() as client:
        started = time.monotonic()
        for _ in range(5):
            client.sendall(b"x")
            time.sleep(0.05)
        assert wire.recv_exactly(client, 5) == b"xxxxx"
        assert 0.4 <= time.monotonic() - started <= 0.8  # 4 gaps of 50 ms + 200 ms, not 5 x 200 ms


def test_stacked_latency_toxics_add_up_and_jitter_spreads(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("latency", name="first", latency=100)
    echo_proxy.add("latency", name="second", stream="upstream", latency=50, jitter=40)
    with echo_proxy.connect() as client:
        times = [wire.round_trip(client) for _ in range(6)]
    assert all(0.1 + 0.01 - 0.005 <= elapsed <= 0.6 for elapsed in times)
    assert max(times) - min(times) > 0.005  # 50 +- 40 ms drawn six times is not constant


# -- bandwidth -------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_bandwidth_paces_the_stream(
    stream: Stream,
    make_proxy: Callable[..., ProxyDriver],
    sink_server: SinkServer,
    tcp_server: Callable[..., TcpServer],
    wire: type[Wire],
) -> None:
    payload = os.urandom(200 * KB)
    rate = 200  # KB/s, so one second
    started = time.monotonic()
    if stream == "upstream":
        driver = make_proxy(sink_server.address)
        driver.add("bandwidth", stream="upstream", rate=rate)
        started = time.monotonic()
        with driver.connect() as client:
            client.sendall(payload)
        assert sink_server.result().sha256 == hashlib.sha256(payload).hexdigest()
    else:
        driver = source_proxy(make_proxy, tcp_server, payload)
        driver.add("bandwidth", rate=rate)
        started = time.monotonic()
        with driver.connect() as client:
            assert wire.recv_until_eof(client) == payload
    measured = len(payload) / KB / (time.monotonic() - started)
    assert rate * 0.5 <= measured <= rate * 1.5


def test_bandwidth_zero_stalls_until_removed(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("bandwidth", rate=0)
    with echo_proxy.connect() as client:
        client.sendall(b"held")
        wire.assert_silent(client, 0.3)
        echo_proxy.remove("bandwidth_downstream")
        assert wire.recv_exactly(client, 4) == b"held"


# -- slow_close ------------------------------------------------------------------------------------
def test_slow_close_delays_the_close(
    make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer], wire: type[Wire]
) -> None:
    driver = source_proxy(make_proxy, tcp_server, b"bye")
    driver.add("slow_close", delay=300)
    with driver.connect() as client:
        assert wire.recv_exactly(client, 3) == b"bye"
        started = time.monotonic()
        assert client.recv(10) == b""
        assert 0.25 <= time.monotonic() - started <= 1.5


# -- timeout ---------------------------------------------------------------------------------------
def test_timeout_drops_data_and_closes_after_silence(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("timeout", stream="upstream", timeout=300)
    with echo_proxy.connect() as client:
        started = time.monotonic()
        for _ in range(4):  # each chunk restarts the timer
            client.sendall(b"lost")
            time.sleep(0.15)
        assert client.recv(10) == b""  # the data never came back, then the proxy closed
        assert 0.65 <= time.monotonic() - started <= 2.0  # 0.45 s of chunks + 0.3 s of silence
    counters = echo_proxy.proxy.counters.toxic("timeout_upstream", "timeout")
    assert (counters.activations, counters.connections_cut) == (1, 1)


def test_timeout_zero_never_closes_and_removing_it_closes(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    echo_proxy.add("timeout", timeout=0)
    with echo_proxy.connect() as client:
        client.sendall(b"lost")
        wire.assert_silent(client, 0.5)
        echo_proxy.remove("timeout_downstream")
        assert client.recv(10) == b""


# -- reset_peer ------------------------------------------------------------------------------------
def test_reset_peer_resets_after_its_timeout(echo_proxy: ProxyDriver) -> None:
    echo_proxy.add("reset_peer", stream="upstream", timeout=200)
    with echo_proxy.connect() as client:
        started = time.monotonic()
        client.sendall(b"first")
        with pytest.raises(ConnectionResetError):
            client.recv(10)
        assert 0.18 <= time.monotonic() - started <= 1.5
    counters = echo_proxy.proxy.counters.toxic("reset_peer_upstream", "reset_peer")
    assert counters.connections_cut == 1


def test_reset_peer_resets_the_upstream_too(
    make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer]
) -> None:
    outcome: list[BaseException | bytes] = []
    done = threading.Event()

    def read(connection: socket.socket) -> None:
        try:
            outcome.append(connection.recv(10))
        except OSError as error:
            outcome.append(error)
        done.set()

    driver = make_proxy(tcp_server(read).address)
    driver.add("reset_peer", stream="upstream")
    with driver.connect() as client:
        client.sendall(b"x")
        assert done.wait(5)
    assert isinstance(outcome[0], ConnectionResetError)


def test_reset_peer_with_toxicity_zero_closes_cleanly(echo_proxy: ProxyDriver, wire: type[Wire]) -> None:
    """Upstream #603: Toxiproxy sets SO_LINGER 0 even when the toxic is skipped, so every close is a RST."""
    echo_proxy.add("reset_peer", stream="upstream", toxicity=0)
    with echo_proxy.connect() as client:
        wire.round_trip(client)
        client.shutdown(socket.SHUT_WR)
        assert client.recv(10) == b""  # FIN, not ConnectionResetError


# -- slicer ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("delay", [1000, 300])  # µs: a timer's millisecond, and less
def test_slicer_delivers_many_small_pieces_intact(
    make_proxy: Callable[..., ProxyDriver], tcp_server: Callable[..., TcpServer], delay: int
) -> None:
    payload = os.urandom(20 * KB)
    driver = source_proxy(make_proxy, tcp_server, payload)
    driver.add("slicer", average_size=100, size_variation=50, delay=delay)
    reads: list[bytes] = []
    with driver.connect() as client:
        while chunk := client.recv(65536):
            reads.append(chunk)
    assert b"".join(reads) == payload
    assert len(reads) >= 50  # unsliced, 20 KB on loopback arrives in one or two reads
    assert max(len(read) for read in reads) < 5 * KB


class RecordingStage:
    """A `Stage` holding one chunk and its end, recording when each piece leaves."""

    def __init__(self, data: bytes, attributes: dict[str, int]) -> None:
        self.rng = random.Random(7)
        self.state: dict[str, int] = {}
        self.attributes = attributes
        self.inbox: deque[Chunk | None] = deque([Chunk(memoryview(data), now()), None])
        self.pieces: list[tuple[float, int]] = []  # (when, size)

    async def head(self) -> Chunk | None:
        return self.inbox[0]

    def forward(self, size: int | None = None) -> None:
        item = self.inbox[0]
        if item is not None and size is not None and size < len(item.data):
            item.data = item.data[size:]
            self.pieces.append((now(), size))
            return
        self.inbox.popleft()
        if item is not None:
            self.pieces.append((now(), len(item.data)))

    def drop(self) -> None:
        raise AssertionError("the slicer never drops data")

    def cut(self) -> None:
        raise AssertionError("the slicer never ends a stream by itself")

    def reset(self) -> None:
        raise AssertionError("the slicer never resets")


@pytest.mark.parametrize("delay", [50, 400, 1500])  # µs
def test_slicer_pauses_after_every_piece_even_under_a_millisecond(loop_thread: LoopThread, delay: int) -> None:
    """Upstream sleeps `delay` after each piece; batching sub-ms delays would send pieces back to back."""
    stage = RecordingStage(os.urandom(5 * KB), {"average_size": 100, "size_variation": 20, "delay": delay})

    loop_thread.run(slicer(stage))

    assert sum(size for _, size in stage.pieces) == 5 * KB
    assert len(stage.pieces) >= 32
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(stage.pieces)]
    assert min(gaps) >= delay / 1_000_000


# -- limit_data ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("updated_limit", "rest"), [(None, 400), (800, 200)])
def test_limit_data_truncates_exactly_then_closes(
    updated_limit: int | None, rest: int, echo_proxy: ProxyDriver, wire: type[Wire]
) -> None:
    """The count is per connection: an update (which restarts the stage) does not reset it."""
    echo_proxy.add("limit_data", bytes=1000)
    payload = os.urandom(600)
    with echo_proxy.connect() as client:
        client.sendall(payload)
        assert wire.recv_exactly(client, 600) == payload
        if updated_limit is not None:
            echo_proxy.update("limit_data_downstream", bytes=updated_limit)
        client.sendall(payload)
        assert wire.recv_until_eof(client) == payload[:rest]
    counters = echo_proxy.proxy.counters.toxic("limit_data_downstream", "limit_data")
    assert counters.connections_cut == 1


def test_limit_data_upstream_counts_the_whole_connection(
    make_proxy: Callable[..., ProxyDriver], sink_server: SinkServer
) -> None:
    driver = make_proxy(sink_server.address)
    driver.add("limit_data", stream="upstream", bytes=1000)
    payload = os.urandom(5000)
    with driver.connect() as client:
        for offset in range(0, 1200, 300):
            client.sendall(payload[offset : offset + 300])
            time.sleep(0.02)
    received = sink_server.result()
    assert (received.size, received.sha256) == (1000, hashlib.sha256(payload[:1000]).hexdigest())


# -- toxicity --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("toxicity", "expected"), [(0.0, range(1)), (1.0, range(20, 21)), (0.5, range(5, 16))])
def test_toxicity_is_drawn_per_connection(
    toxicity: float, expected: range, echo_proxy: ProxyDriver, wire: type[Wire]
) -> None:
    echo_proxy.add("limit_data", toxicity=toxicity, bytes=1)
    affected = 0
    for _ in range(20):
        with echo_proxy.connect() as client:
            client.sendall(b"ab")
            affected += wire.recv_exactly(client, 2) == b"a"  # short read: cut after one byte
    assert affected in expected
    counters = echo_proxy.proxy.counters.toxic("limit_data_downstream", "limit_data")
    assert counters.activations == counters.connections_cut == affected
