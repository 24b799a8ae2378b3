"""What the Pact Broker workflow costs per pact: `python benchmarks/bench_pact_broker.py [--pacts 5 40] [--rounds 5]`.

N consumer pacts are published to the in-repo fake broker, run in a process of its own on loopback
as a real broker would be (in the measuring process its thread would compete for the GIL with the
client's), then measured, interleaved, each round:

- baseline: reading the same N pact files from a local pact directory (`pactfile.scan`), what a
  provider session does without a broker;
- fetch: `pacts_for_verification` (index, one POST with selectors and pending status, one GET per
  pact), what a provider session does once per process with a broker;
- publish: one verification result per pact, what the session does at its end.

Target: each further pact costs at most 5 ms on loopback (fetch + publish, minus the baseline; the
slope between the smallest and the largest N, so the fixed cost of the index and the selector query
is reported apart), so a provider build with dozens of consumers pays well under a second. The fake answers in memory: the
figures are the client's and the HTTP round trips' cost, not a real broker's database. The machine's
load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.broker import PactBroker

TARGET = 0.005  # seconds added per pact
SERVE = """
import sys
from pytest_ipc.contracts.broker_fake import FakePactBroker
with FakePactBroker(token="bench") as broker:
    print(broker.url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def broker_process() -> Iterator[str]:
    """The fake broker in a child process; its URL; the child ends when its stdin closes."""
    child = subprocess.Popen([sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)


def pact(index: int) -> dict[str, object]:
    interactions = [
        {
            "description": f"request {number}",
            "providerStates": [{"name": "an order exists", "params": {"id": number}}],
            "request": {"method": "GET", "path": f"/orders/{number}"},
            "response": {"status": 200, "body": {"id": number, "status": "placed"}},
        }
        for number in range(5)
    ]
    return {"consumer": {"name": f"Consumer{index:03d}"}, "provider": {"name": "Orders"}, "interactions": interactions}


def measure(count: int, rounds: int) -> dict[str, float]:
    documents = [pact(index) for index in range(count)]
    timings: dict[str, list[float]] = {"baseline": [], "fetch": [], "publish": []}
    with tempfile.TemporaryDirectory() as scratch, broker_process() as url, PactBroker(url, token="bench") as client:
        for document in documents:
            (Path(scratch) / f"{document['consumer']['name']}-Orders.json").write_text(json.dumps(document))  # type: ignore[index]
            client.publish([document], consumer_version="1", branch="main")
        for number in range(rounds):
            start = time.perf_counter()
            assert len(pactfile.scan(Path(scratch))[0]) == count
            timings["baseline"].append(time.perf_counter() - start)
            start = time.perf_counter()
            fetched = client.pacts_for_verification("Orders", selectors=[{"mainBranch": True}], provider_branch="main")
            timings["fetch"].append(time.perf_counter() - start)
            assert len(fetched) == count
            start = time.perf_counter()
            for found in fetched:
                client.publish_verification_results(found, success=True, provider_version=f"p{number}", provider_branch="main")
            timings["publish"].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pacts", type=int, nargs="+", default=[5, 40])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'pacts':>6} {'local read':>11} {'fetch':>9} {'publish':>9} {'avg added/pact':>15}")
    print(f"{'':>6} {'ms':>11} {'ms':>9} {'ms':>9} {'ms':>15}")
    added: dict[int, float] = {}
    for count in sorted(set(args.pacts)):
        row = measure(count, args.rounds)
        added[count] = row["fetch"] + row["publish"] - row["baseline"]
        figures = f"{row['baseline'] * 1000:>11.2f} {row['fetch'] * 1000:>9.2f} {row['publish'] * 1000:>9.2f}"
        print(f"{count:>6} {figures} {added[count] / count * 1000:>15.2f}")
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    small, large = min(added), max(added)
    if small == large:
        raise SystemExit("give at least two sizes (--pacts 5 40): the cost per pact is the slope between them")
    slope = (added[large] - added[small]) / (large - small)
    fixed = added[small] - slope * small
    verdict = "PASS" if slope <= TARGET else "FAIL"
    print(
        f"{verdict}: each further pact costs {slope * 1000:.2f} ms (target: at most {TARGET * 1000:.0f} ms); "
        f"fixed cost {fixed * 1000:.1f} ms"
    )

if __name__ == "__main__":
    main()
