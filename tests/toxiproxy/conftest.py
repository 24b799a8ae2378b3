"""Real upstream servers (echo, sink, source) on ephemeral ports and a `TcpProxy` driven on a LoopThread.

The engine tests run on both event loops: uvloop, the default, and asyncio's, the fallback where
uvloop is not installed. Their transports differ in ways the engine must not depend on.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest

from pytest_ipc._loop import EVENT_LOOP_ENV, LoopThread, event_loop_name
from pytest_ipc._net import LOOPBACK, split_host_port
from pytest_ipc.toxiproxy.model import TOXIC_TYPES, Stream, ToxicConfig
from pytest_ipc.toxiproxy.proxy import TcpProxy

#: Generous bound for anything that should happen "at once" on a busy 2-core machine.
SOON = 5.0

Handler = Callable[[socket.socket], None]
T = TypeVar("T")


class TcpServer:
    """A threaded TCP server on 127.0.0.1:0 running `handler` per connection; close() ends everything."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self.listener.getsockname()[1]
        self.address = f"{LOOPBACK}:{self.port}"
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._spawn(self._accept_loop)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            self.handler(connection)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(SOON)


def echo(connection: socket.socket) -> None:
    while data := connection.recv(65536):
        connection.sendall(data)


@dataclass
class Received:
    """What a sink connection read before EOF."""

    size: int
    sha256: str


@pytest.fixture
def tcp_server() -> Iterator[Callable[[Handler], TcpServer]]:
    servers: list[TcpServer] = []

    def start(handler: Handler) -> TcpServer:
        servers.append(TcpServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def echo_server(tcp_server: Callable[[Handler], TcpServer]) -> TcpServer:
    return tcp_server(echo)


class SinkServer(TcpServer):
    """Reads each connection to EOF and reports size and sha256 on `results`."""

    def __init__(self) -> None:
        self.results: queue.Queue[Received] = queue.Queue()
        super().__init__(self._drain)

    def _drain(self, connection: socket.socket) -> None:
        digest, size, buffer = hashlib.sha256(), 0, bytearray(1 << 20)
        while count := connection.recv_into(buffer):
            digest.update(memoryview(buffer)[:count])
            size += count
        self.results.put(Received(size, digest.hexdigest()))

    def result(self) -> Received:
        return self.results.get(timeout=SOON * 4)


@pytest.fixture
def sink_server() -> Iterator[SinkServer]:
    server = SinkServer()
    yield server
    server.close()


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_thread(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopThread]:
    """A loop thread of each kind (the uvloop run is skipped where uvloop is not installed)."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv(EVENT_LOOP_ENV, request.param)
    thread = LoopThread("toxiproxy-engine-test").start()
    assert event_loop_name(thread.loop) == request.param
    yield thread
    thread.stop()


class ProxyDriver:
    """A started `TcpProxy` plus synchronous helpers to call it from the test thread."""

    def __init__(self, loop: LoopThread, proxy: TcpProxy) -> None:
        self.loop = loop
        self.proxy = proxy

    @property
    def address(self) -> tuple[str, int]:
        return split_host_port(self.proxy.listen)

    def connect(self, timeout: float = SOON) -> socket.socket:
        client = socket.create_connection(self.address, timeout=timeout)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def add(self, type: str, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None,
            **attributes: int) -> ToxicConfig:
        values = {attribute: attributes.pop(attribute, 0) for attribute in TOXIC_TYPES[type].wire_names}
        assert not attributes, f"unknown attributes for {type}: {attributes}"
        toxic = ToxicConfig(name or f"{type}_{stream}", type, stream, toxicity, values)
        self.loop.run(self.proxy.add_toxic(toxic))
        return toxic

    def update(self, name: str, toxicity: float = 1.0, **attributes: int) -> ToxicConfig:
        return self.loop.run(self.proxy.update_toxic(name, attributes, toxicity))

    def remove(self, name: str) -> None:
        self.loop.run(self.proxy.remove_toxic(name))

    def stop(self) -> None:
        self.loop.run(self.proxy.stop())

    def start(self) -> None:
        self.loop.run(self.proxy.start())

    def call(self, function: Callable[[], T]) -> T:
        """Run a plain function on the proxy's loop (its state belongs to that thread)."""

        async def run() -> T:
            return function()

        return self.loop.run(run())


@pytest.fixture
def make_proxy(loop_thread: LoopThread) -> Iterator[Callable[..., ProxyDriver]]:
    drivers: list[ProxyDriver] = []

    def make(upstream: str, listen: str = f"{LOOPBACK}:0", seed: int = 1234) -> ProxyDriver:
        proxy = TcpProxy(f"proxy{len(drivers)}", listen, upstream, rng=random.Random(seed))
        driver = ProxyDriver(loop_thread, proxy)
        drivers.append(driver)
        driver.start()
        return driver

    yield make
    for driver in drivers:
        driver.stop()


@pytest.fixture
def echo_proxy(make_proxy: Callable[..., ProxyDriver], echo_server: TcpServer) -> ProxyDriver:
    return make_proxy(echo_server.address)


class Wire:
    """Socket helpers for the test thread (a fixture, since test modules cannot import conftest)."""

    @staticmethod
    def round_trip(client: socket.socket, payload: bytes = b"ping") -> float:
        """Seconds for `payload` to come back from an echo upstream."""
        started = time.monotonic()
        client.sendall(payload)
        assert Wire.recv_exactly(client, len(payload)) == payload
        return time.monotonic() - started

    @staticmethod
    def recv_exactly(client: socket.socket, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = client.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    @staticmethod
    def recv_until_eof(client: socket.socket) -> bytes:
        data = bytearray()
        while chunk := client.recv(65536):
            data += chunk
        return bytes(data)

    @staticmethod
    def assert_silent(client: socket.socket, seconds: float) -> None:
        """Nothing (not even EOF) arrives on `client` for `seconds`."""
        previous = client.gettimeout()
        client.settimeout(seconds)
        try:
            data = client.recv(65536)
        except TimeoutError:
            return
        finally:
            client.settimeout(previous)
        raise AssertionError(f"expected silence, received {data!r}")

    @staticmethod
    def wait_until(condition: Callable[[], object], timeout: float = SOON) -> None:
        """Poll `condition` (state the proxy reaches asynchronously) until true or fail."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.01)


@pytest.fixture
def wire() -> type[Wire]:
    return Wire
