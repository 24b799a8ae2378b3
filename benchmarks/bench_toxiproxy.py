"""Fault proxy benchmark: the embedded Toxiproxy-compatible server against a direct connection and socat.

    python benchmarks/bench_toxiproxy.py            # full run (about a minute)
    python benchmarks/bench_toxiproxy.py --quick    # smaller transfers, for a smoke check

Every figure is measured in this run against a baseline measured in the same run: the proxy runs as
the standalone command (`python -m pytest_ipc.toxiproxy`), socat as a separate process, and the
peer servers (sink, echo) in a third process, so each path has the same number of hops.
Targets (foundation issue): throughput >= 1.0x socat; added latency p50 <= 1.5x socat's;
latency-toxic error p99 <= 2 ms; server start <= 150 ms.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from pytest_ipc._net import LOOPBACK, free_port, wait_for_port
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

CHUNK = 1 << 20
ECHO_SIZE = 64


# --- peer process: a sink that acknowledges a sized transfer, and an echo server -------------------


def _serve_forever(listener: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _sink(conn: socket.socket) -> None:
    with conn:
        header = _recv_exact(conn, 8)
        if header is None:
            return
        (remaining,) = struct.unpack("!Q", header)
        buffer = bytearray(CHUNK)
        while remaining:
            received = conn.recv_into(buffer, min(CHUNK, remaining))
            if not received:
                return
            remaining -= received
        conn.sendall(b"K")


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            return None
        data += more
    return data


def _peer_main(ports: multiprocessing.connection.Connection) -> None:
    listeners = []
    for handler in (_sink, _echo):
        listener = socket.create_server((LOOPBACK, 0), backlog=4096)
        listeners.append(listener.getsockname()[1])
        threading.Thread(target=_serve_forever, args=(listener, handler), daemon=True).start()
    ports.send(listeners)
    ports.recv()  # block until the benchmark is done


# --- the three paths ---------------------------------------------------------------------------------


@dataclass
class Paths:
    sink_port: int
    echo_port: int
    api: str

    def create_proxy(self, name: str, upstream_port: int) -> int:
        response = httpx.post(
            f"{self.api}/proxies",
            json={"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{upstream_port}"},
        )
        response.raise_for_status()
        return int(response.json()["listen"].rsplit(":", 1)[1])

    def add_toxic(self, proxy: str, body: dict[str, object]) -> None:
        httpx.post(f"{self.api}/proxies/{proxy}/toxics", json=body).raise_for_status()


@contextmanager
def peer_process() -> Iterator[tuple[int, int]]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_peer_main, args=(child,), daemon=True)
    process.start()
    try:
        sink_port, echo_port = parent.recv()
        yield sink_port, echo_port
    finally:
        parent.send("done")
        process.join(5)
        if process.is_alive():
            process.kill()


@contextmanager
def toxiproxy_process() -> Iterator[tuple[str, float]]:
    """The standalone server; yields its API URL and the time from exec to its ready line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_ipc.toxiproxy", "--host", LOOPBACK, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        ready = time.perf_counter() - started
        match = re.search(r"http://[\d.]+:\d+", line)
        if match is None:
            raise RuntimeError(f"toxiproxy did not print its address; it said {line!r}")
        yield match.group(0), ready
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def socat_process(upstream_port: int) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind={LOOPBACK},reuseaddr,fork,backlog=4096", f"TCP:{LOOPBACK}:{upstream_port}"]
    )
    try:
        wait_for_port(LOOPBACK, port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


# --- measurements -----------------------------------------------------------------------------------


def throughput(port: int, total: int) -> float:
    """Bytes per second for one sized transfer to the sink through `port`."""
    payload = memoryview(bytes(CHUNK))
    with socket.create_connection((LOOPBACK, port)) as conn:
        started = time.perf_counter()
        conn.sendall(struct.pack("!Q", total))
        sent = 0
        while sent < total:
            step = min(CHUNK, total - sent)
            conn.sendall(payload[:step])
            sent += step
        if conn.recv(1) != b"K":
            raise RuntimeError("sink did not acknowledge the transfer")
        return total / (time.perf_counter() - started)


def best_throughput(port: int, total: int, runs: int = 3) -> float:
    return max(throughput(port, total) for _ in range(runs))


def round_trips(port: int, count: int, warmup: int = 200) -> list[float]:
    """Seconds per small request/response on one kept-alive connection."""
    message = b"x" * ECHO_SIZE
    times = []
    with socket.create_connection((LOOPBACK, port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(warmup + count):
            started = time.perf_counter()
            conn.sendall(message)
            received = 0
            while received < ECHO_SIZE:
                received += len(conn.recv(ECHO_SIZE - received))
            if index >= warmup:
                times.append(time.perf_counter() - started)
    return times


def interleaved_round_trips(ports: dict[str, int], count: int, rounds: int = 5) -> dict[str, list[float]]:
    """Round trips per path, measured in alternating rounds so that drift (CPU clocks, other load)
    spreads over every path instead of favouring whichever ran last."""
    times: dict[str, list[float]] = {path: [] for path in ports}
    for _ in range(rounds):
        for path, port in ports.items():
            times[path] += round_trips(port, count // rounds)
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def hold_connections(port: int, count: int) -> tuple[float, float]:
    """Open `count` connections at once, then round-trip on each; seconds for both phases."""
    started = time.perf_counter()
    connections = [socket.create_connection((LOOPBACK, port)) for _ in range(count)]
    opened = time.perf_counter() - started
    try:
        started = time.perf_counter()
        for conn in connections:
            conn.sendall(b"ping")
        for conn in connections:
            if _recv_exact(conn, 4) != b"ping":
                raise RuntimeError("a held connection did not echo")
        return opened, time.perf_counter() - started
    finally:
        for conn in connections:
            conn.close()


def embedded_start_time(runs: int = 10) -> float:
    """Median seconds from constructing EmbeddedToxiproxy to its API answering /version."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        server = EmbeddedToxiproxy().start()
        try:
            api = http.client.HTTPConnection(server.host, server.port)
            api.request("GET", "/version")
            if api.getresponse().status != 200:
                raise RuntimeError("/version did not answer 200")
            times.append(time.perf_counter() - started)
            api.close()
        finally:
            server.stop()
    return statistics.median(times)


# --- report -----------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller transfers and fewer round trips")
    args = parser.parse_args()
    total = (128 if args.quick else 512) * CHUNK
    trips = 1000 if args.quick else 5000
    if shutil.which("socat") is None:
        sys.exit("socat is not on PATH: apt-get install socat (it is the baseline of this benchmark)")

    rows: list[tuple[str, str, str]] = []
    with peer_process() as (sink_port, echo_port), toxiproxy_process() as (api, cli_ready):
        paths = Paths(sink_port, echo_port, api)
        proxy_sink = paths.create_proxy("bench_sink", sink_port)
        proxy_echo = paths.create_proxy("bench_echo", echo_port)
        proxy_latency = paths.create_proxy("bench_latency", echo_port)
        paths.add_toxic("bench_latency", {"type": "latency", "attributes": {"latency": 50}})

        with socat_process(sink_port) as socat_sink, socat_process(echo_port) as socat_echo:
            direct_bps = best_throughput(sink_port, total)
            socat_bps = best_throughput(socat_sink, total)
            proxy_bps = best_throughput(proxy_sink, total)
            rows.append(("throughput direct", f"{direct_bps / 1e6:,.0f} MB/s", "baseline"))
            rows.append(("throughput socat", f"{socat_bps / 1e6:,.0f} MB/s", f"{socat_bps / direct_bps:.2f}x direct"))
            ratio = proxy_bps / socat_bps
            rows.append(
                ("throughput pytest-ipc", f"{proxy_bps / 1e6:,.0f} MB/s", f"{ratio:.2f}x socat  {verdict(ratio >= 1.0)}")
            )

            rtt = interleaved_round_trips({"direct": echo_port, "socat": socat_echo, "pytest-ipc": proxy_echo}, trips)
            base50, base99 = percentile(rtt["direct"], 0.5), percentile(rtt["direct"], 0.99)
            added = {path: percentile(times, 0.5) - base50 for path, times in rtt.items()}
            rows.append(("round trip direct p50/p99", f"{base50 * 1e6:.0f}/{base99 * 1e6:.0f} us", "baseline"))
            for label in ("socat", "pytest-ipc"):
                p50, p99 = percentile(rtt[label], 0.5), percentile(rtt[label], 0.99)
                note = ""
                if label == "pytest-ipc":
                    ratio = added["pytest-ipc"] / added["socat"] if added["socat"] > 0 else float("inf")
                    ok = added["pytest-ipc"] <= 1.5 * max(added["socat"], 0.0) or p50 <= percentile(rtt["socat"], 0.5)
                    note = f"{ratio:.2f}x socat's added  {verdict(ok)}"
                rows.append(
                    (f"round trip {label} p50/p99 (added p50)", f"{p50 * 1e6:.0f}/{p99 * 1e6:.0f} us (+{added[label] * 1e6:.0f})", note)
                )
            proxy_rtt = rtt["pytest-ipc"]

            proxied_base = percentile(proxy_rtt, 0.5)
            errors = [abs(rtt - proxied_base - 0.050) for rtt in round_trips(proxy_latency, 100 if args.quick else 500, warmup=5)]
            p99_error = percentile(errors, 0.99)
            rows.append(
                (
                    "latency toxic 50 ms error p50/p99",
                    f"{percentile(errors, 0.5) * 1e3:.2f}/{p99_error * 1e3:.2f} ms",
                    verdict(p99_error <= 0.002),
                )
            )

            opened, round_all = hold_connections(proxy_echo, 1000)
            rows.append(("1,000 concurrent connections", f"open {opened:.2f} s, echo all {round_all:.2f} s", "held"))

    start = embedded_start_time()
    rows.append(("server start (embedded, to /version)", f"{start * 1e3:.1f} ms", verdict(start <= 0.150)))
    rows.append(("server start (command, to ready line)", f"{cli_ready * 1e3:.0f} ms", "incl. interpreter start"))

    width = max(len(row[0]) for row in rows)
    print(f"pytest-ipc fault proxy benchmark ({'quick' if args.quick else 'full'}; transfers {total // CHUNK} MiB)")
    for name, figure, note in rows:
        print(f"  {name:<{width}}  {figure:>24}  {note}")


if __name__ == "__main__":
    main()
