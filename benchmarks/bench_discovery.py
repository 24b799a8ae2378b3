"""Service discovery and stub groups, against baselines in the same run: `python benchmarks/bench_discovery.py`.

Measures (medians over rounds):
- the DNS server's start (constructor + start, until a query is answered) against one embedded
  HTTP stub's start;
- the cost of one A query answered by the DNS server, asked with dnspython over UDP, against the
  same query answered by a bare UDP socket on a thread that sends back a prebuilt answer (the floor:
  dnspython's own cost and the loopback round trip);
- a stub group of 5: the session's instances started (`StubGroupPool.take(5)`) and a test's
  begin/end (ports moved together) against five single stubs started one after another, and one
  stub's begin/end.
Targets: DNS start <= 50 ms; per query <= 3x the bare socket; a group of 5 starts within 1.5x five
single stubs; a group's per-test reset within 1.5x five stubs' resets.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from collections.abc import Callable

import dns.message
import dns.name
import dns.query
import dns.rrset

from pytest_ipc._loop import event_loop_name, new_event_loop
from pytest_ipc.discovery import DnsServer
from pytest_ipc.stub import HttpStub
from pytest_ipc.stub.group import StubGroup, StubGroupPool

NAME = "orders.ipc.test"


def median_ms(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def dns_start() -> None:
    server = DnsServer().start()
    query = dns.message.make_query(NAME, "A")
    dns.query.udp(query, server.nameserver, port=server.port, timeout=2)
    server.stop()


def stub_start() -> None:
    HttpStub().start().stop()


class BareUdp:
    """The floor: a socket on a thread that answers every datagram with one prebuilt answer."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        query = dns.message.make_query(NAME, "A")
        answer = dns.message.make_response(query)
        answer.answer.append(dns.rrset.from_text_list(dns.name.from_text(NAME), 1, "IN", "A", ["127.0.0.10", "127.0.0.11", "127.0.0.12"]))
        self.template = answer
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            if data == b"stop":
                return
            self.template.id = int.from_bytes(data[:2], "big")
            self.sock.sendto(self.template.to_wire(), peer)

    def close(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as poke:
            poke.sendto(b"stop", ("127.0.0.1", self.port))
        self.thread.join(2)
        self.sock.close()


def per_query_us(port: int, count: int) -> float:
    query = dns.message.make_query(NAME, "A")
    started = time.perf_counter()
    for _ in range(count):
        dns.query.udp(query, "127.0.0.1", port=port, timeout=2)
    return (time.perf_counter() - started) * 1e6 / count


def group_start(size: int) -> None:
    pool = StubGroupPool()
    group = StubGroup(pool.take(size))
    group.begin_test("bench")
    pool.close()


def stubs_start(size: int) -> None:
    stubs = [HttpStub().start() for _ in range(size)]
    for stub in stubs:
        stub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--size", type=int, default=5)
    args = parser.parse_args()
    loop = new_event_loop()
    print(f"servers on the {event_loop_name(loop)} event loop")
    loop.close()

    dns_ms, stub_ms = median_ms(dns_start, args.rounds), median_ms(stub_start, args.rounds)
    with DnsServer() as server:
        server.register("orders", [("127.0.0.10", 80), ("127.0.0.11", 80), ("127.0.0.12", 80)])
        bare = BareUdp()
        ours_us, floor_us = [], []
        for _ in range(5):  # alternating samples, best kept: other load on a shared machine does not decide the ratio
            ours_us.append(per_query_us(server.port, args.queries // 5))
            floor_us.append(per_query_us(bare.port, args.queries // 5))
        bare.close()
    group_ms = median_ms(lambda: group_start(args.size), args.rounds)
    singles_ms = median_ms(lambda: stubs_start(args.size), args.rounds)

    pool = StubGroupPool()
    group = StubGroup(pool.take(args.size))
    group.begin_test("bench")
    group_reset_ms = median_ms(lambda: (group.end_test(), group.begin_test("bench")), args.rounds * 4)
    pool.close()
    single = HttpStub().start()
    single.begin_test("bench")
    single_reset_ms = median_ms(lambda: (single.end_test(), single.begin_test("bench")), args.rounds * 4)
    single.stop()

    query, floor = min(ours_us), min(floor_us)
    print(f"{'':40} {'pytest-ipc':>12} {'baseline':>12} {'ratio':>7}")
    print(f"{'DNS server start (ms) vs one HTTP stub':40} {dns_ms:12.2f} {stub_ms:12.2f} {dns_ms / stub_ms:7.2f}")
    print(f"{'A query over UDP (us) vs bare socket':40} {query:12.1f} {floor:12.1f} {query / floor:7.2f}")
    print(f"{f'group of {args.size} start (ms) vs {args.size} stubs':40} {group_ms:12.2f} {singles_ms:12.2f} {group_ms / singles_ms:7.2f}")
    print(
        f"{f'group of {args.size} per-test reset (ms) vs 1 stub':40} {group_reset_ms:12.2f} {single_reset_ms:12.2f} "
        f"{group_reset_ms / single_reset_ms:7.2f}"
    )
    verdicts = {
        "DNS server start <= 50 ms": dns_ms <= 50,
        "per query <= 3x the bare socket": query <= 3 * floor,
        f"group of {args.size} start <= 1.5x {args.size} single stubs": group_ms <= 1.5 * singles_ms,
        f"group of {args.size} reset <= 1.5x {args.size} single resets": group_reset_ms <= 1.5 * args.size * single_reset_ms,
    }
    print()
    for target, met in verdicts.items():
        print(f"{'PASS' if met else 'FAIL':>7}  {target}")


if __name__ == "__main__":
    main()
