"""A private embedded Toxiproxy and a real TCP echo upstream for the client tests."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest

from pytest_ipc.client import ToxiproxyClient
from pytest_ipc.toxiproxy import EmbeddedToxiproxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="session")
def echo_upstream() -> Iterator[str]:
    """``host:port`` of a TCP echo server on loopback."""
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="echo-upstream", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedToxiproxy]:
    with EmbeddedToxiproxy() as server:
        yield server


@pytest.fixture
def client(embedded_server: EmbeddedToxiproxy) -> Iterator[ToxiproxyClient]:
    """A client on the shared embedded server, which is left empty after each test."""
    with ToxiproxyClient(embedded_server.url) as client:
        try:
            yield client
        finally:
            for name in client.proxies():
                client.delete_proxy(name)


def _round_trip(address: tuple[str, int], payload: bytes = b"ping", timeout: float = 5.0) -> bytes:
    """Send `payload` through a fresh connection and read the same number of bytes back (or to EOF)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


RoundTrip = Callable[..., bytes]


@pytest.fixture
def round_trip() -> RoundTrip:
    """``round_trip((host, port), payload=b"ping")``: what comes back through a fresh connection."""
    return _round_trip
