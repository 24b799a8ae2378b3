"""pytest-ipc's HTTP stub against pytest-httpserver, in one run: `python benchmarks/bench_http_stub.py`.

Measures, for each server: start time (constructor + start, until it accepts; imports excluded),
first-response time (a fresh connection and one GET right after start), sequential requests per
second over one keep-alive http.client connection, and the per-test reset cost (three routes set
up, then cleared the way each fixture does between tests: for the stub, ending one test, which
closes its connections and opens the next test's port, and beginning the next). Start, first response and reset are
medians; requests per second is the best of alternating rounds, so load from other processes on a
shared machine does not decide the ratio. Lower is better except requests per second.
Targets from the issue: start <= 50 ms, first response <= 2 ms, per request <= 0.5x pytest-httpserver.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pytest_httpserver import HTTPServer

from pytest_ipc._loop import event_loop_name, new_event_loop
from pytest_ipc.stub import HttpStub

HOST = "127.0.0.1"


@dataclass
class Figures:
    start_ms: float
    first_response_ms: float
    requests_per_s: float
    reset_us: float

    @property
    def per_request_us(self) -> float:
        return 1e6 / self.requests_per_s


class Contender(Protocol):
    """One server behind the same four operations, so both are measured by the same code."""

    name: str

    def start(self) -> int: ...  # returns the port

    def stop(self) -> None: ...

    def add_routes(self) -> None: ...

    def reset(self) -> None: ...


class Stub(Contender):
    name = "pytest-ipc http_stub"

    def start(self) -> int:
        self.server = HttpStub(HOST).start()
        return self.server.port

    def stop(self) -> None:
        self.server.stop()

    def add_routes(self) -> None:
        self.server.expect("GET", "/ping").respond(text="pong")
        self.server.expect("GET", "/v1/orders/{order_id}").respond(json={"id": 1})
        self.server.expect("POST", "/v1/orders", json={"qty": 1}).respond(status=201)

    def reset(self) -> None:
        self.server.end_test()  # closes the test's connections, opens the next test's port
        self.server.begin_test("bench")


class HttpServerPlugin(Contender):
    name = "pytest-httpserver"

    def start(self) -> int:
        self.server = HTTPServer(HOST, 0)
        self.server.start()
        return int(self.server.port)

    def stop(self) -> None:
        self.server.clear()
        self.server.stop()

    def add_routes(self) -> None:
        self.server.expect_request("/ping", method="GET").respond_with_data("pong")
        self.server.expect_request("/v1/orders/1", method="GET").respond_with_json({"id": 1})
        self.server.expect_request("/v1/orders", method="POST", json={"qty": 1}).respond_with_data("", status=201)

    def reset(self) -> None:
        self.server.clear()


def get(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
    return body


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure_start(contender: Contender, rounds: int) -> tuple[float, float]:
    """Median start time and first-response time (ms) over `rounds` fresh servers."""
    starts: list[float] = []
    firsts: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        port = contender.start()
        started = time.perf_counter()
        contender.add_routes()
        before_first = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        get(connection, "/ping")
        firsts.append(time.perf_counter() - before_first)
        starts.append(started - began)
        connection.close()
        contender.reset()
        contender.stop()
    return median_ms(starts), median_ms(firsts)


def measure_reset(contender: Contender, rounds: int) -> float:
    """Median cost (us) of clearing three routes, as each fixture does between tests."""
    samples = []
    for _ in range(rounds):
        contender.add_routes()
        began = time.perf_counter()
        contender.reset()
        samples.append(time.perf_counter() - began)
    return median_ms(samples) * 1000


def measure_rates(contenders: list[Contender], rounds: int, requests: int) -> list[float]:
    """Requests per second for each contender: the best of `rounds` alternating samples.

    Alternating and keeping the best sample filters out bursts of load from other processes,
    which on a shared 2-core machine would otherwise decide the ratio.
    """
    connections = []
    for contender in contenders:
        connection = http.client.HTTPConnection(HOST, contender.start(), timeout=10)
        contender.add_routes()
        for _ in range(50):  # warm up both sides
            get(connection, "/ping")
        connections.append(connection)
    best = [0.0] * len(contenders)
    try:
        for _ in range(rounds):
            for index, connection in enumerate(connections):
                began = time.perf_counter()
                for _ in range(requests):
                    get(connection, "/ping")
                best[index] = max(best[index], requests / (time.perf_counter() - began))
    finally:
        for contender, connection in zip(contenders, connections, strict=True):
            connection.close()
            contender.stop()
    return best


def table(ours: Figures, theirs: Figures) -> str:
    rows: list[tuple[str, Callable[[Figures], float], str, str]] = [
        ("start (ms)", lambda f: f.start_ms, "{:.2f}", "<= 50 ms"),
        ("first response (ms)", lambda f: f.first_response_ms, "{:.2f}", "<= 2 ms"),
        ("requests/s (keep-alive)", lambda f: f.requests_per_s, "{:.0f}", ""),
        ("per request (us)", lambda f: f.per_request_us, "{:.0f}", "<= 0.5x theirs"),
        ("per-test reset (us)", lambda f: f.reset_us, "{:.1f}", ""),
    ]
    header = f"{'metric':<26}{'pytest-ipc':>14}{'pytest-httpserver':>20}{'ratio ours/theirs':>20}  target"
    lines = [header, "-" * len(header)]
    for label, pick, fmt, target in rows:
        mine, other = pick(ours), pick(theirs)
        lines.append(f"{label:<26}{fmt.format(mine):>14}{fmt.format(other):>20}{mine / other:>20.2f}  {target}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="start/stop rounds per server")
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per rate sample")
    parser.add_argument("--rate-rounds", type=int, default=7, help="alternating rate samples per server (best kept)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request would skew it
    contenders: list[Contender] = [Stub(), HttpServerPlugin()]
    starts = [measure_start(contender, args.rounds) for contender in contenders]
    rates = measure_rates(contenders, args.rate_rounds, args.requests)
    resets = []
    for contender in contenders:
        contender.start()
        resets.append(measure_reset(contender, args.rounds * 20))
        contender.stop()
    ours, theirs = (Figures(*start, rate, reset) for start, rate, reset in zip(starts, rates, resets, strict=True))
    chosen = new_event_loop()  # the kind the stub's loop thread runs (PYTEST_IPC_EVENT_LOOP)
    print(f"pytest-ipc stub on the {event_loop_name(chosen)} event loop")
    chosen.close()
    print(table(ours, theirs))
    verdicts = {
        "start <= 50 ms": ours.start_ms <= 50,
        "first response <= 2 ms": ours.first_response_ms <= 2,
        "per request <= 0.5x pytest-httpserver": ours.per_request_us <= 0.5 * theirs.per_request_us,
    }
    print()
    for target, met in verdicts.items():
        print(f"{'met' if met else 'MISSED':>7}  {target}")


if __name__ == "__main__":
    main()
