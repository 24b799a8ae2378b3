"""Consumer-side cost per test: pytest-ipc's Pact handling against plain pact-python, in one run.

`python benchmarks/bench_contracts.py [--tests 50 200 800]`

Each simulated test defines one HTTP interaction, serves it, makes the one request the client under
test would make, stops the mock server and keeps the pact of the (passing) test. Plain pact-python
keeps it the documented way, `pact.write_file(directory)`, which merges into one ever-growing file;
pytest-ipc writes a per-test record and merges every record once at session end (included in its
figure). The ms/test column is the whole cost divided by the number of tests, so flat numbers down a
column mean linear growth. Target from the issue: <= 3 ms per interaction, linear.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact, match

from pytest_ipc.contracts.consumer import ManagedPact
from pytest_ipc.contracts.recorder import PactRecorder, fragments_path


def define(pact: Pact, number: int) -> None:
    (
        pact.upon_receiving(f"a request for order {number}")
        .given("an order exists", id=number)
        .with_request("GET", f"/orders/{number}")
        .will_respond_with(200)
        .with_body({"id": match.int(number), "status": match.str("placed")})
    )


def plain_pact_python(tests: int, workdir: Path, client: httpx.Client) -> float:
    start = time.perf_counter()
    for number in range(tests):
        pact = Pact("Web", "Orders")
        define(pact, number)
        with pact.serve(addr="127.0.0.1") as server:
            client.get(f"{server.url}/orders/{number}")
        pact.write_file(workdir / "pacts")
    return time.perf_counter() - start


def pytest_ipc_consumer(tests: int, workdir: Path, client: httpx.Client) -> float:
    start = time.perf_counter()
    recorder = PactRecorder(workdir / "pacts", fragments_path(), "main", workdir)
    for number in range(tests):
        pact = ManagedPact("Web", "Orders")
        define(pact, number)
        with pact.serve() as server:
            client.get(f"{server.url}/orders/{number}")
        pact.stop_servers()
        recorder.record(f"test_orders.py::test_order[{number}]", [pact], called=True, passed=True)
    recorder.finish_worker()
    outcome = recorder.merge()
    recorder.cleanup()
    elapsed = time.perf_counter() - start
    assert len(outcome.written) == 1 and not outcome.conflicts
    return elapsed


def pact_core_floor(tests: int, workdir: Path, client: httpx.Client) -> float:
    """What neither can avoid: the Pact core building, serving and stopping one mock server per test."""
    start = time.perf_counter()
    for number in range(tests):
        pact = ManagedPact("Web", "Orders")
        define(pact, number)
        with pact.serve() as server:
            client.get(f"{server.url}/orders/{number}")
    return time.perf_counter() - start


def measure(runner: Callable[[int, Path, httpx.Client], float], tests: int, client: httpx.Client) -> float:
    workdir = Path(tempfile.mkdtemp(prefix="bench-contracts-"))
    try:
        return runner(tests, workdir, client) * 1000 / tests
    finally:
        shutil.rmtree(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is shown")
    arguments = parser.parse_args()
    print(
        f"{'tests':>6} {'plain pact-python':>18} {'pytest-ipc':>11} {'ratio':>6} {'Pact core floor':>16} {'pytest-ipc over floor':>22}"
    )
    print(f"{'':>6} {'ms/test':>18} {'ms/test':>11} {'':>6} {'ms/test':>16} {'ms/test':>22}")
    # No keep-alive: each mock server is new, and a pooled connection to a stopped one is useless.
    with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        measure(pytest_ipc_consumer, 20, client)  # warm up the Pact core
        for tests in arguments.tests:
            figures: dict[str, list[float]] = {"plain": [], "ours": [], "floor": []}
            for _ in range(arguments.rounds):
                figures["plain"].append(measure(plain_pact_python, tests, client))
                figures["ours"].append(measure(pytest_ipc_consumer, tests, client))
                figures["floor"].append(measure(pact_core_floor, tests, client))
            plain, ours, floor = (statistics.median(figures[name]) for name in ("plain", "ours", "floor"))
            print(f"{tests:>6} {plain:>18.2f} {ours:>11.2f} {plain / ours:>5.1f}x {floor:>16.2f} {ours - floor:>22.2f}")


if __name__ == "__main__":
    main()
