"""TLS benchmark: the session CA's set-up, the HTTPS stub's handshake cost, the proxy's TLS pass-through.

    python benchmarks/bench_tls.py            # full run (about 20 seconds)
    python benchmarks/bench_tls.py --quick    # smaller transfers, for a smoke check

Every figure has its baseline measured in the same run:
- certificate set-up per session: a new `CertificateAuthority`, a server and a client certificate,
  a server context asking for client certificates and a client context (what a session using
  `https_stub` with mutual TLS pays); median of several sessions. Target <= 100 ms.
- handshake cost: the HTTPS stub against the plain HTTP stub, a new connection for every request
  (http.client, the paths taking turns in batches); the ratio is printed, no target.
- pass-through throughput: bulk transfers through the proxy (the standalone
  `python -m pytest_ipc.toxiproxy`) to a sink in another process, TLS against plain text, taking
  turns. Target: TLS >= 0.9x plain, judged on the proxy's own capacity: payload bytes it moves per
  second of its CPU time (from /proc), since wall-clock rates of TLS transfers are bound by the
  encryption at the two ends (the direct TLS / plain ratio, printed too, shows by how much) and, on
  a small machine, by the ends and the proxy competing for the same cores. The wall-clock ratios
  through the proxy are printed as well.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import multiprocessing.connection
import os
import re
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from pytest_ipc._net import LOOPBACK

CHUNK = 1 << 20
SETUP_TARGET = 0.100
THROUGHPUT_TARGET = 0.9


# --- certificate set-up -------------------------------------------------------------------------------


def certificate_setup(sessions: int) -> tuple[float, float, float]:
    """(first import of the CA module, median set-up of one session, median of the full bad set too)."""
    started = time.perf_counter()
    from pytest_ipc.tls import BAD_CLIENT_CERTIFICATES, BAD_SERVER_CERTIFICATES
    from pytest_ipc.tls.ca import CertificateAuthority

    imported = time.perf_counter() - started
    setups, full = [], []
    for _ in range(sessions):
        started = time.perf_counter()
        with CertificateAuthority() as ca:
            ca.server_context(accept_client_certificate=True)
            ca.client_context(ca.client_certificate())
            setups.append(time.perf_counter() - started)
            for defect in BAD_SERVER_CERTIFICATES:
                ca.bad_server_certificate(defect)
            for defect in BAD_CLIENT_CERTIFICATES:
                ca.bad_client_certificate(defect)
            full.append(time.perf_counter() - started)
    return imported, statistics.median(setups), statistics.median(full)


# --- handshake cost of the stub -----------------------------------------------------------------------


def per_request(make: Callable[[], http.client.HTTPConnection], requests: int) -> float:
    """Mean seconds per GET on a new connection each."""
    started = time.perf_counter()
    for _ in range(requests):
        connection = make()
        connection.request("GET", "/ping")
        connection.getresponse().read()
        connection.close()
    return (time.perf_counter() - started) / requests


def handshake_cost(requests: int, batch: int = 50) -> tuple[float, float]:
    from pytest_ipc.stub import HttpStub
    from pytest_ipc.tls.ca import CertificateAuthority

    with CertificateAuthority() as ca, HttpStub() as plain, HttpStub(tls=ca.server_context()) as tls:
        for stub in (plain, tls):
            stub.expect("GET", "/ping").respond(text="pong")
        context = ca.client_context()
        paths = {
            "http": lambda: http.client.HTTPConnection(LOOPBACK, plain.port, timeout=5),
            "https": lambda: http.client.HTTPSConnection(LOOPBACK, tls.port, timeout=5, context=context),
        }
        for make in paths.values():  # warm-up
            per_request(make, 10)
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(max(1, requests // batch)):
            for name, make in paths.items():
                times[name].append(per_request(make, batch))
        return statistics.median(times["http"]), statistics.median(times["https"])


# --- pass-through throughput --------------------------------------------------------------------------


def _sink(conn: socket.socket, context: ssl.SSLContext | None) -> None:
    """Read a sized transfer (8-byte length, then the bytes) and acknowledge it with b"K"."""
    with conn:
        stream = conn if context is None else context.wrap_socket(conn, server_side=True)
        header = _recv_exact(stream, 8)
        (remaining,) = struct.unpack("!Q", header)
        buffer = bytearray(CHUNK)
        while remaining:
            received = stream.recv_into(buffer, min(CHUNK, remaining))
            if not received:
                return
            remaining -= received
        stream.sendall(b"K")


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the peer closed early")
        data += chunk
    return data


def _serve(listener: socket.socket, context: ssl.SSLContext | None) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_sink, args=(conn, context), daemon=True).start()


def _peer_main(pipe: multiprocessing.connection.Connection, cert: str, key: str) -> None:
    """The sinks, in a process of their own: plain text and TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    ports = []
    for server_context in (None, context):
        listener = socket.create_server((LOOPBACK, 0), backlog=128)
        ports.append(listener.getsockname()[1])
        threading.Thread(target=_serve, args=(listener, server_context), daemon=True).start()
    pipe.send(ports)
    pipe.recv()


@contextmanager
def peer_process(cert: str, key: str) -> Iterator[tuple[int, int]]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_peer_main, args=(child, cert, key), daemon=True)
    process.start()
    try:
        plain, tls = parent.recv()
        yield plain, tls
    finally:
        parent.send("done")
        process.join(5)
        if process.is_alive():
            process.kill()


@contextmanager
def toxiproxy_process() -> Iterator[tuple[str, int]]:
    """The standalone proxy; yields its API URL and pid once it printed its ready line."""
    command = [sys.executable, "-m", "pytest_ipc.toxiproxy", "--host", LOOPBACK, "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"API listening on (http://[\d.]+:\d+)", line)
        if match is None:
            raise RuntimeError(f"toxiproxy did not print its ready line; it said {line!r}")
        yield match.group(1), process.pid
    finally:
        process.terminate()
        process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create_proxy(api: str, name: str, upstream_port: int) -> int:
    answer = httpx.post(f"{api}/proxies", json={"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{upstream_port}"})
    answer.raise_for_status()
    return int(answer.json()["listen"].rsplit(":", 1)[1])


def throughput(port: int, total: int, context: ssl.SSLContext | None) -> float:
    """Payload bytes per second of one sized transfer to a sink through `port` (TLS with `context`)."""
    payload = memoryview(bytes(CHUNK))
    with socket.create_connection((LOOPBACK, port)) as raw:
        conn = raw if context is None else context.wrap_socket(raw, server_hostname="localhost")
        started = time.perf_counter()
        conn.sendall(struct.pack("!Q", total))
        sent = 0
        while sent < total:
            step = min(CHUNK, total - sent)
            conn.sendall(payload[:step])
            sent += step
        if _recv_exact(conn, 1) != b"K":
            raise RuntimeError("the sink did not acknowledge the transfer")
        return total / (time.perf_counter() - started)


def pass_through(total: int, runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """(best wall-clock rate of each path, proxy's bytes per CPU-second for each proxied path)."""
    from pytest_ipc.tls.ca import CertificateAuthority

    with CertificateAuthority() as ca:
        certificate = ca.server_certificate()
        context = ca.client_context()
        sinks = peer_process(str(certificate.cert_path), str(certificate.key_path))
        with sinks as (plain_port, tls_port), toxiproxy_process() as (api, pid):
            paths = {
                "direct plain": (plain_port, None),
                "direct tls": (tls_port, context),
                "proxy plain": (create_proxy(api, "bench_plain", plain_port), None),
                "proxy tls": (create_proxy(api, "bench_tls", tls_port), context),
            }
            best = dict.fromkeys(paths, 0.0)
            cpu = dict.fromkeys(paths, 0.0)
            for _ in range(runs):
                for name, (port, path_context) in paths.items():
                    before = cpu_seconds(pid)
                    best[name] = max(best[name], throughput(port, total, path_context))
                    cpu[name] += cpu_seconds(pid) - before
            capacity = {name: total * runs / cpu[name] for name in ("proxy plain", "proxy tls")}
            return best, capacity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers and fewer rounds")
    quick = parser.parse_args().quick
    imported, setup, full = certificate_setup(5)
    plain_time, tls_time = handshake_cost(100 if quick else 400)
    rates, capacity = pass_through((32 if quick else 128) * CHUNK, 3 if quick else 5)

    print(f"{'metric':<52}{'value':>14}  target")
    print(f"{'first import of pytest_ipc.tls.ca':<52}{imported * 1000:>11.1f} ms  (once per session, not counted)")
    verdict = "PASS" if setup <= SETUP_TARGET else "FAIL"
    print(f"{'certificate set-up per session (CA, server, client)':<52}{setup * 1000:>11.1f} ms  <= {SETUP_TARGET * 1000:.0f} ms {verdict}")
    print(f"{'  ... with all 9 bad certificates as well':<52}{full * 1000:>11.1f} ms")
    print(f"{'stub request, new connection each: http':<52}{plain_time * 1e6:>11.0f} us")
    print(f"{'stub request, new connection each: https':<52}{tls_time * 1e6:>11.0f} us")
    print(f"{'  TLS handshake cost (https / http)':<52}{tls_time / plain_time:>12.2f} x  (informational)")
    for name, rate in rates.items():
        print(f"{'throughput ' + name:<52}{rate / 1e6:>10.0f} MB/s")
    for name, rate in capacity.items():
        print(f"{'proxy capacity ' + name + ' (bytes per CPU-second)':<52}{rate / 1e6:>10.0f} MB/s")
    print(f"{'  direct: TLS / plain (encryption at the ends)':<52}{rates['direct tls'] / rates['direct plain']:>12.2f} x")
    print(f"{'  through the proxy, wall clock: TLS / plain':<52}{rates['proxy tls'] / rates['proxy plain']:>12.2f} x  (bound by the ends)")
    proxied = capacity["proxy tls"] / capacity["proxy plain"]
    verdict = "PASS" if proxied >= THROUGHPUT_TARGET else "FAIL"
    print(f"{'  proxy pass-through capacity: TLS / plain':<52}{proxied:>12.2f} x  >= {THROUGHPUT_TARGET} {verdict}")

if __name__ == "__main__":
    main()
