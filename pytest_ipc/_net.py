"""Small socket helpers shared by every backend: loopback defaults, port picking, readiness probes."""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Ask the kernel for an unused TCP port on `host`.

    Only for programs that must be told a port up front (broker binaries); our own servers bind to
    port 0 and report what they got, which has no race at all.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def accepts_connections(host: str, port: int) -> bool:
    """One TCP connect attempt: the cheapest readiness probe, for servers ready once they listen."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_for_port(host: str, port: int, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Block until a TCP connect to host:port succeeds; raise TimeoutError naming it otherwise."""
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=max(interval, 0.1)):
                return
        except OSError as error:
            last_error = error
            time.sleep(interval)
    raise TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout} s: {last_error}")


def split_host_port(address: str) -> tuple[str, int]:
    """Split "host:port" (or "[v6]:port") into its parts; raise ValueError naming the bad address."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)
