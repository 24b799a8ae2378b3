"""TLS benchmark: the session CA's set-up, the HTTPS stub's handshake cost, the proxy's TLS pass-through.

    python benchmarks/bench_tls.py            # full run (about a minute)
    python benchmarks/bench_tls.py --quick    # smaller transfers, for a smoke check

Every figure has its baseline measured in the same run:
- certificate set-up per session: a new `CertificateAuthority`, a server and a client certificate,
  a server context asking for client certificates and a client context (what a session using
  `https_stub` with mutual TLS pays); median of several sessions, as CPU time of this process
  (judged: on a shared machine wall time measures the other processes too) and as wall time.
  Target <= 100 ms.
- handshake cost: the HTTPS stub against the plain HTTP stub, a new connection for every request
  (http.client, the paths taking turns in batches); the ratio is printed, no target.
- pass-through throughput: bulk transfers through the proxy (the standalone
  `python -m pytest_ipc.toxiproxy`) from a sender to a sink, each end in a process of its own and
  neither in the measuring one, TLS against plain text as interleaved pairs (the order alternating),
  medians of the pairs. The proxy relays TLS bytes as the bytes they are, but a sender that encrypts
  while it sends delivers them at another rate and in other pieces, which alone changes the proxy's
  CPU per byte ("live" figures, informational, with the encryption cost at the ends). So the judged
  figure uses "prepared" transfers: the sender makes the whole transfer first (TLS: the records of a
  real session, which the sink decrypts) and writes plain text and TLS the same way, in 64 KiB
  writes paced to a rate both sinks keep (a quarter of the slower path at full speed), and both
  sinks read 16 KiB at a time (a TLS read returns one record): the same shape on both sides of the
  proxy. The prepared transfers at full speed are printed too (bound by the TLS sink's decryption,
  as the direct ratio shows). Target: the proxy's capacity
  (payload bytes per second of its own CPU time, from /proc/<pid>/task/*/schedstat, nanoseconds)
  for TLS >= 0.9x plain. The proxy's read and write calls per transfer (/proc/<pid>/io) are printed
  to show the shapes match; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
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
BLOCK = 64 * 1024  # a prepared sender's write, the same for plain text and TLS
RECORD = 16 * 1024  # a sink's read: the most one TLS read returns (one record)
PACE = 0.25  # paced senders run at this share of the slower prepared path at full speed, so both kinds keep the pace
SETUP_TARGET = 0.100
THROUGHPUT_TARGET = 0.9


# --- certificate set-up -------------------------------------------------------------------------------


def certificate_setup(sessions: int) -> tuple[float, float, float, float]:
    """(first import of the CA module, median CPU time of one session's set-up, its median wall time,
    median wall time with the full bad set too)."""
    started = time.perf_counter()
    from pytest_ipc.tls import BAD_CLIENT_CERTIFICATES, BAD_SERVER_CERTIFICATES
    from pytest_ipc.tls.ca import CertificateAuthority

    imported = time.perf_counter() - started
    cpu, wall, full = [], [], []
    for _ in range(sessions):
        started, started_cpu = time.perf_counter(), time.process_time()
        with CertificateAuthority() as ca:
            ca.server_context(accept_client_certificate=True)
            ca.client_context(ca.client_certificate())
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
            for defect in BAD_SERVER_CERTIFICATES:
                ca.bad_server_certificate(defect)
            for defect in BAD_CLIENT_CERTIFICATES:
                ca.bad_client_certificate(defect)
            full.append(time.perf_counter() - started)
    return imported, statistics.median(cpu), statistics.median(wall), statistics.median(full)


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
    """Read a sized transfer (8-byte length, then the bytes) and acknowledge it with b"K".

    Both kinds read at most one TLS record's worth (16 KiB) at a time, as a TLS read returns one
    record: the proxy's downstream side then meets the same consumer for plain text and TLS."""
    with conn:
        stream = conn if context is None else context.wrap_socket(conn, server_side=True)
        header = _recv_exact(stream, 8)
        (remaining,) = struct.unpack("!Q", header)
        buffer = bytearray(RECORD)
        while remaining:
            received = stream.recv_into(buffer, min(RECORD, remaining))
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


def _send(port: int, total: int, context: ssl.SSLContext | None) -> float:
    """Live: seconds one sized transfer takes, encrypting while sending (TLS with `context`), from the
    first payload byte to the sink's acknowledgement."""
    payload = memoryview(bytes(CHUNK))
    with socket.create_connection((LOOPBACK, port)) as raw:
        conn = raw if context is None else context.wrap_socket(raw, server_hostname="localhost")
        conn.sendall(struct.pack("!Q", total))  # the handshake is done: time the bytes only
        started = time.perf_counter()
        sent = 0
        while sent < total:
            step = min(CHUNK, total - sent)
            conn.sendall(payload[:step])
            sent += step
        if _recv_exact(conn, 1) != b"K":
            raise RuntimeError("the sink did not acknowledge the transfer")
        return time.perf_counter() - started


def _handshake(raw: socket.socket, context: ssl.SSLContext) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """A TLS session over `raw` whose records are made in memory (so they can be made before they are sent)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            data = raw.recv(65536)
            if not data:
                raise ConnectionError("the sink closed during the handshake") from None
            incoming.write(data)
    raw.sendall(outgoing.read())
    return tls, incoming, outgoing


def _send_prepared(port: int, total: int, context: ssl.SSLContext | None, rate: float | None) -> float:
    """Prepared: the bytes of the whole transfer are made first (TLS: encrypted into records of a real
    session), then written to the socket in BLOCK writes, paced to `rate` bytes per second (None: as
    fast as the socket takes them). Plain text and TLS then reach the proxy in the same shape.
    Returns the seconds from the first byte written to the sink's acknowledgement."""
    with socket.create_connection((LOOPBACK, port)) as raw:
        header = struct.pack("!Q", total)
        if context is None:
            wire = memoryview(header + bytes(total))
        else:
            tls, incoming, outgoing = _handshake(raw, context)
            tls.write(header)
            payload = memoryview(bytes(CHUNK))
            for offset in range(0, total, CHUNK):
                tls.write(payload[: min(CHUNK, total - offset)])
            wire = memoryview(outgoing.read())
        started = time.perf_counter()
        for offset in range(0, len(wire), BLOCK):
            raw.sendall(wire[offset : offset + BLOCK])
            if rate is not None and (ahead := started + (offset + BLOCK) / rate - time.perf_counter()) > 0:
                time.sleep(ahead)
        if context is None:
            answer = _recv_exact(raw, 1)
        else:
            answer = b""
            while not answer:
                data = raw.recv(65536)
                if not data:
                    raise ConnectionError("the sink closed before acknowledging")
                incoming.write(data)
                with contextlib.suppress(ssl.SSLWantReadError):
                    answer = tls.read(1)
        if answer != b"K":
            raise RuntimeError("the sink did not acknowledge the transfer")
        return time.perf_counter() - started


def _sinks_main(pipe: multiprocessing.connection.Connection, cert: str, key: str) -> None:
    """The sinks (plain text and TLS), in a process of their own."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    ports = []
    for server_context in (None, server):
        listener = socket.create_server((LOOPBACK, 0), backlog=128)
        ports.append(listener.getsockname()[1])
        threading.Thread(target=_serve, args=(listener, server_context), daemon=True).start()
    pipe.send(ports)
    pipe.recv()


def _sender_main(pipe: multiprocessing.connection.Connection, bundle: str) -> None:
    """The sender, in a process of its own: sends what the measuring process asks for, answers the seconds it took."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=bundle)
    pipe.send("ready")
    while (command := pipe.recv()) is not None:
        port, total, tls, prepared, rate = command
        context = client if tls else None
        pipe.send(_send_prepared(port, total, context, rate) if prepared else _send(port, total, context))


Transfer = Callable[[int, int, bool, bool, float | None], float]


@contextmanager
def ends_process(cert: str, key: str, bundle: str) -> Iterator[tuple[Transfer, int, int]]:
    """The ends' processes (sinks, sender: neither competes with the other for a GIL); yields a function
    timing one transfer (port, bytes, TLS?, prepared?, pace) and the sinks' ports."""
    spawn = multiprocessing.get_context("spawn")
    sinks_pipe, sinks_child = multiprocessing.Pipe()
    sender_pipe, sender_child = multiprocessing.Pipe()
    processes = [
        spawn.Process(target=_sinks_main, args=(sinks_child, cert, key), daemon=True),
        spawn.Process(target=_sender_main, args=(sender_child, bundle), daemon=True),
    ]
    for process in processes:
        process.start()

    def transfer(port: int, total: int, tls: bool, prepared: bool = False, rate: float | None = None) -> float:
        sender_pipe.send((port, total, tls, prepared, rate))
        seconds: float = sender_pipe.recv()
        return seconds

    try:
        plain, tls = sinks_pipe.recv()
        sender_pipe.recv()
        yield transfer, plain, tls
    finally:
        sinks_pipe.send("done")
        sender_pipe.send(None)
        for process in processes:
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
    """CPU time of every thread of process `pid` so far, in nanosecond resolution (/proc/.../schedstat:
    a 128 MB transfer costs the proxy about 0.1 s, ten clock ticks of /proc/.../stat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total / 1e9


def syscalls(pid: int) -> int:
    """Read and write system calls process `pid` made so far (/proc/.../io): how many pieces it moved the bytes in."""
    with open(f"/proc/{pid}/io") as io:
        counts = dict(line.split(": ") for line in io.read().splitlines())
    return int(counts["syscr"]) + int(counts["syscw"])


def create_proxy(api: str, name: str, upstream_port: int) -> int:
    answer = httpx.post(f"{api}/proxies", json={"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{upstream_port}"})
    answer.raise_for_status()
    return int(answer.json()["listen"].rsplit(":", 1)[1])


def pass_through(total: int, pairs: int) -> dict[str, float]:
    """Medians over interleaved (plain, TLS) pairs of `total` bytes each, the order alternating, with
    both ends in a process of their own and the proxy in another.

    Live, each end encrypts while it sends: the wall-clock TLS / plain ratios, direct and through the
    proxy, show the cost of encryption at the ends, and the bytes reach the proxy at a different rate
    and in different pieces, which changes its CPU per byte. Prepared, the sender makes the whole
    transfer first (TLS: the records of a real session, which the sink decrypts) and writes both
    kinds the same way: the same upstream shape. Then the proxy's TLS / plain ratios compare its
    relaying of TLS bytes with plain bytes and nothing else: its wall-clock throughput at full speed,
    and its capacity (bytes per CPU-second of the proxy) at a pace both sinks keep (the judged figure).
    """
    from pytest_ipc.tls.ca import CertificateAuthority

    with CertificateAuthority() as ca:
        certificate = ca.server_certificate()
        ends = ends_process(str(certificate.cert_path), str(certificate.key_path), str(ca.bundle_path))
        with ends as (transfer, plain_port, tls_port), toxiproxy_process() as (api, pid):
            proxied = {False: create_proxy(api, "bench_plain", plain_port), True: create_proxy(api, "bench_tls", tls_port)}
            direct = {False: plain_port, True: tls_port}
            for tls in (False, True):  # warm-up: connections, TLS sessions, the proxy's code paths
                transfer(direct[tls], total // 4, tls)
                transfer(proxied[tls], total // 4, tls, True)
            # the pace: a share of the slower prepared path at full speed, so both sinks keep it
            rate = PACE * total / max(transfer(proxied[tls], total, tls, True) for tls in (False, True))
            names = ("live direct", "live proxy", "live capacity", "live calls", "prepared direct", "proxy", "capacity", "calls", "paced")
            ratios: dict[str, list[float]] = {name: [] for name in names}
            rates: dict[str, list[float]] = {"live direct plain": [], "live direct tls": [], "proxy plain": [], "proxy tls": []}
            for pair in range(pairs):
                order = (False, True) if pair % 2 == 0 else (True, False)
                live_direct = {tls: transfer(direct[tls], total, tls) for tls in order}
                live, live_cpu, live_calls, full, paced, paced_cpu, paced_calls = {}, {}, {}, {}, {}, {}, {}
                for tls in order:
                    before, calls = cpu_seconds(pid), syscalls(pid)
                    live[tls] = transfer(proxied[tls], total, tls)
                    live_cpu[tls] = cpu_seconds(pid) - before
                    live_calls[tls] = syscalls(pid) - calls
                prepared_direct = {tls: transfer(direct[tls], total, tls, True) for tls in order}
                for tls in order:
                    full[tls] = transfer(proxied[tls], total, tls, True)
                for tls in order:
                    before, calls = cpu_seconds(pid), syscalls(pid)
                    paced[tls] = transfer(proxied[tls], total, tls, True, rate)
                    paced_cpu[tls] = cpu_seconds(pid) - before
                    paced_calls[tls] = syscalls(pid) - calls
                ratios["live direct"].append(live_direct[False] / live_direct[True])
                ratios["live proxy"].append(live[False] / live[True])
                ratios["live capacity"].append(live_cpu[False] / live_cpu[True])
                ratios["live calls"].append(live_calls[True] / live_calls[False])
                ratios["prepared direct"].append(prepared_direct[False] / prepared_direct[True])
                ratios["proxy"].append(full[False] / full[True])
                ratios["capacity"].append(paced_cpu[False] / paced_cpu[True])
                ratios["calls"].append(paced_calls[True] / paced_calls[False])
                ratios["paced"].append(paced[False] / paced[True])
                for tls, kind in ((False, "plain"), (True, "tls")):
                    rates[f"live direct {kind}"].append(total / live_direct[tls])
                    rates[f"proxy {kind}"].append(total / full[tls])
            figures = {name: statistics.median(values) for name, values in ratios.items()}
            figures["capacity spread"] = max(ratios["capacity"]) - min(ratios["capacity"])
            figures["proxy spread"] = max(ratios["proxy"]) - min(ratios["proxy"])
            figures.update({name: statistics.median(values) for name, values in rates.items()})
            figures["pace"] = rate
            return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers and fewer rounds")
    quick = parser.parse_args().quick
    imported, setup, setup_wall, full = certificate_setup(7)
    plain_time, tls_time = handshake_cost(100 if quick else 400)
    pairs = 5 if quick else 9
    figures = pass_through((32 if quick else 64) * CHUNK, pairs)

    print(f"{'metric':<60}{'value':>14}  target")
    print(f"{'first import of pytest_ipc.tls.ca':<60}{imported * 1000:>11.1f} ms  (once per session, not counted)")
    verdict = "PASS" if setup <= SETUP_TARGET else "FAIL"
    print(f"{'certificate set-up per session, CPU time':<60}{setup * 1000:>11.1f} ms  <= {SETUP_TARGET * 1000:.0f} ms {verdict}")
    print(f"{'  ... wall time':<60}{setup_wall * 1000:>11.1f} ms")
    print(f"{'  ... wall time with all 9 bad certificates as well':<60}{full * 1000:>11.1f} ms")
    print(f"{'stub request, new connection each: http':<60}{plain_time * 1e6:>11.0f} us")
    print(f"{'stub request, new connection each: https':<60}{tls_time * 1e6:>11.0f} us")
    print(f"{'  TLS handshake cost (https / http)':<60}{tls_time / plain_time:>12.2f} x  (informational)")
    print(f"{'pass-through: medians of ' + str(pairs) + ' interleaved plain/TLS pairs':<60}")
    for name in ("live direct plain", "live direct tls"):
        print(f"{'  throughput ' + name:<60}{figures[name] / 1e6:>10.0f} MB/s")
    print(f"{'  live, direct, wall clock: TLS / plain':<60}{figures['live direct']:>12.2f} x  (encryption at the ends)")
    print(f"{'  live, through the proxy, wall clock: TLS / plain':<60}{figures['live proxy']:>12.2f} x  (bound by the ends)")
    print(f"{'  live, reads and writes of the proxy: TLS / plain':<60}{figures['live calls']:>12.2f} x  (pieces the bytes came in)")
    print(f"{'  live, proxy capacity: TLS / plain':<60}{figures['live capacity']:>12.2f} x  (informational: other pieces)")
    for name in ("proxy plain", "proxy tls"):
        print(f"{'  prepared, throughput ' + name:<60}{figures[name] / 1e6:>10.0f} MB/s")
    print(f"{'  prepared, direct, wall clock: TLS / plain':<60}{figures['prepared direct']:>12.2f} x  (the TLS sink decrypting)")
    print(
        f"{'  prepared, through the proxy, wall clock: TLS / plain':<60}{figures['proxy']:>12.2f} x  "
        f"(bound by the slower of proxy and sink; spread of pairs {figures['proxy spread']:.2f})"
    )
    print(f"{'  paced, both kinds at':<60}{figures['pace'] / 1e6:>10.0f} MB/s  ({PACE:.0%} of the slower prepared path)")
    print(f"{'  paced, through the proxy, wall clock: TLS / plain':<60}{figures['paced']:>12.2f} x")
    print(f"{'  paced, reads and writes of the proxy: TLS / plain':<60}{figures['calls']:>12.2f} x  (pieces the bytes came in)")
    verdict = "PASS" if figures["capacity"] >= THROUGHPUT_TARGET else "FAIL"
    print(
        f"{'  paced, proxy capacity (bytes per its CPU-second): TLS / plain':<60}{figures['capacity']:>12.2f} x  "
        f">= {THROUGHPUT_TARGET} {verdict} (spread of pairs {figures['capacity spread']:.2f})"
    )
    with open("/proc/loadavg") as load:
        print(f"{'load average (1, 5, 15 min)':<60}{' '.join(load.read().split()[:3]):>14}")


if __name__ == "__main__":
    main()
