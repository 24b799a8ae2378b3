"""Fault proxy benchmark: the embedded Toxiproxy-compatible server against a direct connection and socat.

    python benchmarks/bench_toxiproxy.py            # full run (about a minute)
    python benchmarks/bench_toxiproxy.py --quick    # smaller transfers, for a smoke check

Every figure is measured in this run against a baseline measured in the same run: the proxy runs as
the standalone command (`python -m pytest_ipc.toxiproxy`, on the event loop PYTEST_IPC_EVENT_LOOP
chooses; the report names it), socat as a separate process, and the peer servers (sink, echo) in a
third process, so each path has the same number of hops.
Targets (foundation issue): throughput >= 1.0x socat; added latency p50 <= 1.5x socat's;
latency-toxic error p99 <= 2 ms; server start <= 150 ms.

The small round trip is measured twice, each time on the three paths in alternating short batches.
Spread over the CPUs, a round trip of a few microseconds is dominated by CPUs idling and waking up:
the proxied paths often come out faster than the direct one, so "added latency" is noise and can
even be negative. Pinned to one CPU (the idlest: this process and all it starts, which inherit its
affinity), nothing idles between hops and the added latency is what each hop costs in CPU time,
which is stable from run to run. Both are reported with their ratio to socat's added latency in
the same mode; a ratio only gets a verdict when socat's is above zero.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
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
from contextlib import ExitStack, contextmanager
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


@dataclass
class ProxyServer:
    api: str
    ready: float  # seconds from exec to the ready line
    event_loop: str


@contextmanager
def toxiproxy_process() -> Iterator[ProxyServer]:
    """The standalone server, once it has printed its ready line (URL and event loop)."""
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
        match = re.search(r"\(pytest-ipc, (\w+)\) API listening on (http://[\d.]+:\d+)", line)
        if match is None:
            raise RuntimeError(f"toxiproxy did not print its ready line; it said {line!r}")
        yield ProxyServer(match.group(2), ready, match.group(1))
    finally:
        process.terminate()
        process.wait(10)


def idlest_cpu(cpus: set[int], window: float = 0.5) -> int:
    """The CPU of `cpus` that idled most over the next `window` seconds (others may pin work too)."""

    def idle_ticks() -> dict[int, int]:
        with open("/proc/stat") as stat:
            fields = [line.split() for line in stat if line.startswith("cpu") and line[3].isdigit()]
        return {int(field[0][3:]): int(field[4]) + int(field[5]) for field in fields}  # idle + iowait

    before = idle_ticks()
    time.sleep(window)
    after = idle_ticks()
    return max(sorted(cpus), key=lambda cpu: after[cpu] - before[cpu])


@contextmanager
def pinned_to_one_cpu() -> Iterator[int]:
    """Pin this thread to one CPU (so every process it starts meanwhile too); yields the CPU."""
    allowed = os.sched_getaffinity(0)
    cpu = idlest_cpu(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


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


def best_throughputs(ports: dict[str, int], total: int, runs: int = 3) -> dict[str, float]:
    """Best of `runs` transfers per path, the paths taking turns (a burst of other load cannot spoil
    every run of one path)."""
    best = dict.fromkeys(ports, 0.0)
    for _ in range(runs):
        for path, port in ports.items():
            best[path] = max(best[path], throughput(port, total))
    return best


def echo_connection(port: int) -> socket.socket:
    conn = socket.create_connection((LOOPBACK, port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def round_trip(conn: socket.socket, message: bytes = b"x" * ECHO_SIZE) -> float:
    """Seconds for one small request/response on `conn`."""
    started = time.perf_counter()
    conn.sendall(message)
    received = 0
    while received < len(message):
        received += len(conn.recv(len(message) - received))
    return time.perf_counter() - started


def round_trips(port: int, count: int, warmup: int = 200) -> list[float]:
    """Seconds per small request/response on one kept-alive connection."""
    with echo_connection(port) as conn:
        for _ in range(warmup):
            round_trip(conn)
        return [round_trip(conn) for _ in range(count)]


def interleaved_round_trips(ports: dict[str, int], count: int, batch: int = 20) -> dict[str, list[float]]:
    """`count` round trips per path on one kept-alive connection each, in alternating batches of
    `batch`, so that drift and bursts of other load fall on every path alike."""
    with ExitStack() as stack:
        connections = {path: stack.enter_context(echo_connection(port)) for path, port in ports.items()}
        for conn in connections.values():
            for _ in range(200):  # warm-up
                round_trip(conn)
        times: dict[str, list[float]] = {path: [] for path in ports}
        for _ in range(count // batch):
            for path, conn in connections.items():
                times[path] += [round_trip(conn) for _ in range(batch)]
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


Row = tuple[str, str, str]  # what, figure, verdict or note


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def round_trip_rows(mode: str, rtt: dict[str, list[float]]) -> list[Row]:
    """p50/p99 per path and the added p50 over direct; pytest-ipc's added p50 judged against socat's."""
    base50, base99 = percentile(rtt["direct"], 0.5), percentile(rtt["direct"], 0.99)
    added = {path: percentile(times, 0.5) - base50 for path, times in rtt.items()}
    rows = [(f"round trip, {mode}: direct p50/p99", f"{base50 * 1e6:.0f}/{base99 * 1e6:.0f} us", "baseline")]
    for path in ("socat", "pytest-ipc"):
        p50, p99 = percentile(rtt[path], 0.5), percentile(rtt[path], 0.99)
        note = ""
        if path == "pytest-ipc":
            if added["socat"] > 0:
                ratio = added["pytest-ipc"] / added["socat"]
                note = f"{ratio:.2f}x socat's added  {verdict(ratio <= 1.5)}"
            else:
                note = "no verdict: socat added nothing measurable"
        figure = f"{p50 * 1e6:.0f}/{p99 * 1e6:.0f} us ({added[path] * 1e6:+.1f})"
        rows.append((f"round trip, {mode}: {path} p50/p99 (added)", figure, note))
    return rows


def one_cpu_round_trips(trips: int) -> tuple[int, dict[str, list[float]]]:
    """Round trips with the peer, socat, the proxy and this client all on one CPU (fresh processes)."""
    with pinned_to_one_cpu() as cpu, peer_process() as (sink_port, echo_port), toxiproxy_process() as server:
        proxy_echo = Paths(sink_port, echo_port, server.api).create_proxy("bench_echo", echo_port)
        with socat_process(echo_port) as socat_echo:
            ports = {"direct": echo_port, "socat": socat_echo, "pytest-ipc": proxy_echo}
            return cpu, interleaved_round_trips(ports, trips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller transfers and fewer round trips")
    args = parser.parse_args()
    total = (128 if args.quick else 512) * CHUNK
    trips = 1000 if args.quick else 5000
    if shutil.which("socat") is None:
        sys.exit("socat is not on PATH: apt-get install socat (it is the baseline of this benchmark)")
    load_before = os.getloadavg()[0]

    rows: list[Row] = []
    with peer_process() as (sink_port, echo_port), toxiproxy_process() as server:
        paths = Paths(sink_port, echo_port, server.api)
        proxy_sink = paths.create_proxy("bench_sink", sink_port)
        proxy_echo = paths.create_proxy("bench_echo", echo_port)
        proxy_latency = paths.create_proxy("bench_latency", echo_port)
        paths.add_toxic("bench_latency", {"type": "latency", "attributes": {"latency": 50}})

        with socat_process(sink_port) as socat_sink, socat_process(echo_port) as socat_echo:
            bps = best_throughputs({"direct": sink_port, "socat": socat_sink, "pytest-ipc": proxy_sink}, total)
            direct_bps, socat_bps, proxy_bps = bps["direct"], bps["socat"], bps["pytest-ipc"]
            rows.append(("throughput direct", f"{direct_bps / 1e6:,.0f} MB/s", "baseline"))
            rows.append(("throughput socat", f"{socat_bps / 1e6:,.0f} MB/s", f"{socat_bps / direct_bps:.2f}x direct"))
            ratio = proxy_bps / socat_bps
            rows.append(
                ("throughput pytest-ipc", f"{proxy_bps / 1e6:,.0f} MB/s", f"{ratio:.2f}x socat  {verdict(ratio >= 1.0)}")
            )

            rtt = interleaved_round_trips({"direct": echo_port, "socat": socat_echo, "pytest-ipc": proxy_echo}, trips)
            cpus = len(os.sched_getaffinity(0))
            rows += round_trip_rows(f"{cpus} CPU{'s' if cpus > 1 else ''}", rtt)

            proxied_base = percentile(rtt["pytest-ipc"], 0.5)
            samples = round_trips(proxy_latency, 100 if args.quick else 500, warmup=5)
            errors = [abs(elapsed - proxied_base - 0.050) for elapsed in samples]
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

    cpu, pinned_rtt = one_cpu_round_trips(trips)
    rows += round_trip_rows(f"CPU {cpu} only", pinned_rtt)

    start = embedded_start_time()
    rows.append(("server start (embedded, to /version)", f"{start * 1e3:.1f} ms", verdict(start <= 0.150)))
    rows.append(("server start (command, to ready line)", f"{server.ready * 1e3:.0f} ms", "incl. interpreter start"))

    width = max(len(row[0]) for row in rows)
    print(
        f"pytest-ipc fault proxy benchmark ({'quick' if args.quick else 'full'}; transfers {total // CHUNK} MiB; "
        f"proxy event loop {server.event_loop}; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after)"
    )
    for name, figure, note in rows:
        print(f"  {name:<{width}}  {figure:>26}  {note}")


if __name__ == "__main__":
    main()
