"""What the Pact Broker workflow costs per pact: `python benchmarks/bench_pact_broker.py [--pacts 5 40] [--rounds 5]`.

N consumer pacts are published to the in-repo fake broker, run in a process of its own on loopback
as a real broker would be (in the measuring process its thread would compete for the GIL with the
client's), then measured, interleaved, each round:

- local read: the same N pact files read from a pact directory (`pactfile.scan`), what a provider
  session does without a broker (for scale);
- raw HTTP (the baseline): the same requests made with a bare httpx client (the selector query,
  then per pact one GET of the pact and one POST of a result), the round trips no client avoids;
- pytest-ipc: `pacts_for_verification` (the index, the selector query with pending status, a GET
  per pact) and one `publish_verification_results` per pact, what a provider session does.

Target: pytest-ipc within 1.5x of raw HTTP (its HAL navigation, checks and error mapping cost
little beside the round trips). The fake answers from memory: the figures are the client's and the
round trips' cost, not a real broker's database. The machine's load average is printed with them.
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

import httpx

from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.broker import PactBroker

TARGET_RATIO = 1.5
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
    timings: dict[str, list[float]] = {"local": [], "raw": [], "ours": []}
    query = {"consumerVersionSelectors": [{"mainBranch": True}], "providerVersionBranch": "main", "includePendingStatus": True}
    with (
        tempfile.TemporaryDirectory() as scratch,
        broker_process() as url,
        PactBroker(url, token="bench") as client,
        httpx.Client(headers={"Authorization": "Bearer bench"}, verify=False) as raw,
    ):
        for document in documents:
            (Path(scratch) / f"{document['consumer']['name']}-Orders.json").write_text(json.dumps(document))  # type: ignore[index]
            client.publish([document], consumer_version="1", branch="main")
        for number in range(rounds):
            start = time.perf_counter()
            assert len(pactfile.scan(Path(scratch))[0]) == count
            timings["local"].append(time.perf_counter() - start)

            start = time.perf_counter()
            listing = raw.post(f"{url}/pacts/provider/Orders/for-verification", json=query).json()
            for entry in listing["_embedded"]["pacts"]:
                document = raw.get(entry["_links"]["self"]["href"]).json()
                result = {"success": True, "providerApplicationVersion": f"r{number}", "providerVersionBranch": "main"}
                raw.post(document["_links"]["pb:publish-verification-results"]["href"], json=result).raise_for_status()
            timings["raw"].append(time.perf_counter() - start)

            start = time.perf_counter()
            fetched = client.pacts_for_verification("Orders", selectors=[{"mainBranch": True}], provider_branch="main")
            for found in fetched:
                client.publish_verification_results(found, success=True, provider_version=f"p{number}", provider_branch="main")
            timings["ours"].append(time.perf_counter() - start)
            assert len(fetched) == count
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pacts", type=int, nargs="+", default=[5, 40])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'pacts':>6} {'local read':>11} {'raw HTTP':>9} {'pytest-ipc':>11} {'per pact':>9} {'ratio':>6}")
    print(f"{'':>6} {'ms':>11} {'ms':>9} {'ms':>11} {'ms':>9} {'':>6}")
    worst = 0.0
    for count in args.pacts:
        row = measure(count, args.rounds)
        ratio = row["ours"] / row["raw"]
        worst = max(worst, ratio)
        figures = f"{row['local'] * 1000:>11.2f} {row['raw'] * 1000:>9.2f} {row['ours'] * 1000:>11.2f}"
        print(f"{count:>6} {figures} {row['ours'] / count * 1000:>9.2f} {ratio:>5.2f}x")
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    verdict = "PASS" if worst <= TARGET_RATIO else "FAIL"
    print(f"{verdict}: pytest-ipc's broker workflow at {worst:.2f}x raw HTTP at worst (target: at most {TARGET_RATIO}x)")

if __name__ == "__main__":
    main()
