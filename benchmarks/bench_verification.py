"""Provider verification cost per interaction: pytest-ipc's items against plain pact-python, in one run.

`python benchmarks/bench_verification.py [--interactions 50 400] [--rounds 3] [--no-pytest]`

A pact of N HTTP interactions, each with a provider state and its parameter, is verified against
the same loopback provider three ways:

- plain pact-python: one `Verifier` over the whole file, provider states through its own handler;
- pytest-ipc, in process: what each `pact_interaction` item runs (its interaction cut from the pact
  parsed once at collection, verified with the states on the test's thread), N times;
- pytest-ipc, as pytest items: a real `pytest` session over the same pact, the median item time
  (setup + call + teardown, from its JUnit report; the median leaves out the first item's one-off
  session fixtures: provider, callback server).

Target from issue 13: at most 1.5x plain pact-python's cost per interaction, flat in N (the cost at
the largest N within 1.25x of the smallest). The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from pact import Verifier

from pytest_ipc.contracts.callbacks import CallbackServer
from pytest_ipc.contracts.merge import SessionFacts
from pytest_ipc.contracts.provider import PactLibrary, ProviderSession
from pytest_ipc.contracts.recorder import PactRecorder
from pytest_ipc.contracts.states import ProviderStates
from pytest_ipc.contracts.verification import DEFAULT_REQUEST_TIMEOUT, verify_cut

TARGET_RATIO = 1.5
FLAT_GROWTH = 1.25
ORDERS: set[int] = set()


class Orders(BaseHTTPRequestHandler):
    """GET /orders/{n}: 200 with the order when its state was set up, else 404."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        number = int(self.path.rsplit("/", 1)[1])
        body = json.dumps({"id": number, "status": "placed"}).encode() if number in ORDERS else b"{}"
        self.send_response(200 if number in ORDERS else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def pact_document(interactions: int) -> dict[str, Any]:
    return {
        "consumer": {"name": "Web"},
        "provider": {"name": "Orders"},
        "interactions": [
            {
                "type": "Synchronous/HTTP",
                "description": f"a request for order {number}",
                "providerStates": [{"name": "an order exists", "params": {"id": number}}],
                "request": {"method": "GET", "path": f"/orders/{number}"},
                "response": {
                    "status": 200,
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"content": {"id": number, "status": "placed"}, "contentType": "application/json", "encoded": False},
                    "matchingRules": {"body": {"$.id": {"combine": "AND", "matchers": [{"match": "integer"}]}}},
                },
            }
            for number in range(interactions)
        ],
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


def order_exists(params: dict[str, Any]) -> None:
    ORDERS.add(int(params["id"]))


def plain_pact_python(pact_dir: Path, url: str, interactions: int) -> float:
    def handler(action: str, parameters: dict[str, Any]) -> None:
        if action == "setup":
            order_exists(parameters)

    ORDERS.clear()
    start = time.perf_counter()
    verifier = Verifier("Orders", host="127.0.0.1").add_source(pact_dir / "Web-Orders.json").add_transport(url=url)
    verifier.state_handler({"an order exists": handler}, teardown=True)
    verifier.verify()
    elapsed = time.perf_counter() - start
    assert len(verifier.results["interactionResults"]) == interactions
    return elapsed / interactions


def pytest_ipc_in_process(pact_dir: Path, url: str, interactions: int, callbacks: CallbackServer) -> float:
    ORDERS.clear()
    scratch = Path(tempfile.mkdtemp(prefix="bench-verification-"))
    try:
        recorder = PactRecorder(pact_dir, scratch / "fragments", "main", pact_dir.parent)
        library = PactLibrary(recorder.scratch_dir)
        facts = SessionFacts(pact_dir.parent, frozenset(), lambda test: False)
        session = ProviderSession(recorder, library, lambda: facts, lambda provider: set(), frozenset())
        states = ProviderStates("Orders")
        states.register("an order exists", order_exists)
        refs = library.discover(pact_dir, "Orders", None)  # collection: once per session
        start = time.perf_counter()
        for ref in refs:  # one pytest item each
            for target, cut in session.targets(ref):
                verify_cut(target, cut, callbacks, base_url=url, messages=None, states=states, headers=None,
                           request_timeout=DEFAULT_REQUEST_TIMEOUT)
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert len(refs) == interactions
    return elapsed / interactions


PROJECT_CONFTEST = """
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_ipc.contracts import provider_state

ORDERS = set()


@provider_state("an order exists", provider="Orders")
def an_order_exists(params):
    ORDERS.add(int(params["id"]))


class Orders(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        number = int(self.path.rsplit("/", 1)[1])
        body = json.dumps({"id": number, "status": "placed"}).encode() if number in ORDERS else b"{}"
        self.send_response(200 if number in ORDERS else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def orders_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
"""

PROJECT_TEST = """
import pytest


@pytest.mark.pact_provider("Orders")
def test_orders(pact_interaction, orders_url):
    pact_interaction.verify(orders_url)
"""


def pytest_ipc_items(pact_dir: Path, interactions: int, project: Path) -> float:
    """A real pytest session over the pact (its own provider, same code); the median item's setup +
    call + teardown, from its JUnit report."""
    report = project / "report.xml"
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--ipc-pact-dir={pact_dir}",
        f"--junitxml={report}", "-o", "junit_duration_report=total", str(project),
    ]
    completed = subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=1800, check=False)
    cases = list(ElementTree.parse(report).getroot().iter("testcase")) if report.exists() else []
    if len(cases) != interactions or completed.returncode != 0:
        raise RuntimeError(f"the pytest session failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return statistics.median(float(case.get("time", "0")) for case in cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, nargs="+", default=[50, 400])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is shown")
    parser.add_argument("--no-pytest", action="store_true", help="skip the real pytest sessions")
    arguments = parser.parse_args()
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")  # this script's own process: plain pact-python too
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())} on {os.cpu_count()} CPUs")
    work = Path(tempfile.mkdtemp(prefix="bench-verification-"))
    figures: dict[int, dict[str, float]] = {}
    callbacks = CallbackServer()
    try:
        with provider() as url, _quiet_stdout():
            for interactions in arguments.interactions:
                pact_dir = work / f"pacts-{interactions}"
                pact_dir.mkdir()
                (pact_dir / "Web-Orders.json").write_text(json.dumps(pact_document(interactions)))
                project = work / f"project-{interactions}"
                project.mkdir()
                (project / "conftest.py").write_text(textwrap.dedent(PROJECT_CONFTEST))
                (project / "test_provider.py").write_text(textwrap.dedent(PROJECT_TEST))
                runs: dict[str, list[float]] = {"plain": [], "ours": [], "items": []}
                for _ in range(arguments.rounds):
                    runs["plain"].append(plain_pact_python(pact_dir, url, interactions))
                    runs["ours"].append(pytest_ipc_in_process(pact_dir, url, interactions, callbacks))
                if not arguments.no_pytest:
                    runs["items"].append(pytest_ipc_items(pact_dir, interactions, project))
                figures[interactions] = {name: statistics.median(values) * 1000 for name, values in runs.items() if values}
    finally:
        callbacks.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(figures)
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The Pact verifier prints every interaction to file descriptor 1, pact-python's state server
    logs every request to 2: both go to /dev/null while measuring (a traceback prints after)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        for descriptor, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, descriptor)
            os.close(copy)
        os.close(devnull)


def report(figures: dict[int, dict[str, float]]) -> None:
    sizes = sorted(figures)
    print(f"{'interactions':>12} {'plain pact-python':>18} {'pytest-ipc':>11} {'ratio':>6} {'as pytest items':>16} {'ratio':>6}")
    print(f"{'':>12} {'ms/interaction':>18} {'ms/int.':>11} {'':>6} {'ms/item':>16} {'':>6}")
    for size in sizes:
        row = figures[size]
        items = f"{row['items']:>16.2f} {row['items'] / row['plain']:>5.2f}x" if "items" in row else f"{'-':>16} {'':>6}"
        print(f"{size:>12} {row['plain']:>18.2f} {row['ours']:>11.2f} {row['ours'] / row['plain']:>5.2f}x {items}")
    for name, label in (("ours", "pytest-ipc in process"), ("items", "pytest-ipc as pytest items")):
        if not all(name in figures[size] for size in sizes):
            continue
        worst = max(figures[size][name] / figures[size]["plain"] for size in sizes)
        growth = figures[sizes[-1]][name] / figures[sizes[0]][name]
        verdict = "PASS" if worst <= TARGET_RATIO and growth <= FLAT_GROWTH else "MISS"
        print(
            f"{verdict} {label}: worst ratio {worst:.2f}x (target <= {TARGET_RATIO}x), "
            f"{sizes[-1]} vs {sizes[0]} interactions {growth:.2f}x per interaction (flat: <= {FLAT_GROWTH}x)"
        )


if __name__ == "__main__":
    main()
