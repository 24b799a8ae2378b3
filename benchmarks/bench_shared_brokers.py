"""Shared and kept brokers (`pytest_ipc._shared`): `python benchmarks/bench_shared_brokers.py [--rounds N]`.

- boot: a private node until ready, from its private home (`pytest_ipc.brokers.rabbitmq_home`: only
  the plugins it enables) against the same node on the installation's whole plugins directory;
- teardown: `LocalRabbitMQ.stop()` (server, epmd and control node killed, dir removed, ports given
  back) against a bare node's (SIGKILL to the node's process group until no member runs), and what a
  session pays for a shared broker (its lease given back; the keeper stops the node meanwhile);
- reuse: a fresh process finding a RabbitMQ kept by an earlier session (``--ipc-reuse``) until its
  server is ready and until its first test's vhost is (its modules loaded, as a session has them by
  then), against a cold boot in the same run; and a whole one-test pytest session, cold and warm;
- reuse of a container: a fresh process finding a Redis container kept by an earlier session until
  its first test's key prefix is ready, against the container's cold start in the same run (skipped
  without a Docker engine or the image: ``PYTEST_IPC_REDIS_IMAGE``, default the public one); the
  same for the fault proxy's server in a container (``PYTEST_IPC_TOXIPROXY_IMAGE``) until its API answers;
- suite: a 20-test RabbitMQ suite (a queue per test, 100 confirmed publishes and gets) run serially, under ``-n 2``
  with a broker per worker, under ``-n 2`` with one shared broker (started by the controller at
  session start, from the last run's cache; and on a first run, nothing cached), under ``-n 2`` with
  a broker kept by the previous run (``--ipc-reuse``), and with pytest-rabbitmq's
  fixtures under ``-n 2`` (the same tests on its ``rabbitmq`` connection; skipped unless it is
  importable: ``pip install pytest-rabbitmq``, or ``pip install --target DIR pytest-rabbitmq`` and
  ``--pytest-rabbitmq DIR`` to keep it out of every other session). Each setup runs in alternating
  rounds (medians), in a lean environment (pytest, pytest-xdist and pytest-ipc only: a RabbitMQ
  project's own) and in the full one (every plugin installed here: schemathesis, hypothesis, faker
  and others cost about 2 s of imports per process, which ``-n 2`` pays three times).

Targets: teardown within 0.1 s of the bare node's; a kept RabbitMQ ready within 0.1 s, a kept
container (Redis, Toxiproxy) within 0.1 s; the shared
``-n 2`` suite faster than the serial one. Needs rabbitmq-server; prints the load (2 shared cores).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

TEARDOWN = """
import json, os, signal, time
from pytest_ipc._proc import group_running
from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ
bare_node = LocalRabbitMQ().start()
started = time.perf_counter()
os.killpg(bare_node.process.pid, signal.SIGKILL)
while group_running(bare_node.process.pid):
    time.sleep(0.001)
bare = time.perf_counter() - started
bare_node.stop()
node = LocalRabbitMQ().start()
started = time.perf_counter()
node.stop()
ours = time.perf_counter() - started
print(json.dumps({"bare": bare, "ours": ours}))
"""

BOOT = """
import json, time
from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ


class InstallationPlugins(LocalRabbitMQ):
    \"\"\"The node on its installation's whole plugins directory, as before its private home.\"\"\"

    def configure(self, base):
        super().configure(base)
        self._home = {}


times = {}
for name, node in (("installation", InstallationPlugins()), ("private", LocalRabbitMQ())):
    started = time.perf_counter()
    node.start()
    times[name] = time.perf_counter() - started
    node.stop()
print(json.dumps(times))
"""

SHARED_TEARDOWN = """
import json, os, sys, time
from pytest_ipc import _shared
from pytest_ipc.backends.broker_shared import SharedBroker
key = _shared.instance_key("rabbitmq", "bench", os.urandom(4).hex())
runtime = SharedBroker(_shared.acquire(key, {"kind": "rabbitmq", "scope": "run"}, linger=0.0), reuse=False)
started = time.perf_counter()
runtime.stop()
released = time.perf_counter() - started
while _shared.keeper_alive(key):
    time.sleep(0.001)
print(json.dumps({"released": released, "keeper_done": time.perf_counter() - started}))
"""

REUSE = """
import json, os, sys, time
started = time.perf_counter()
from pytest_ipc import _shared
from pytest_ipc.backends.broker_shared import SharedBroker
from pytest_ipc.brokers.server import BrokerServer
import pytest_ipc.brokers.kinds  # a session has loaded it by then (collection asks whether brokers can run)
imported = time.perf_counter()
runtime = SharedBroker(_shared.acquire(sys.argv[1], {"kind": "rabbitmq", "scope": "reuse"}, linger=float(sys.argv[2])), reuse=True)
server = BrokerServer(runtime, "local", "bench")
ready = time.perf_counter()
handle = server.isolate().open()
vhost = time.perf_counter()
handle.close()
server.close()
runtime.stop()
print(json.dumps({"ready": ready - imported, "vhost": vhost - imported, "import": imported - started}))
"""

REUSE_CONTAINER = """
import json, os, sys, time
from pytest_ipc import _shared
from pytest_ipc.backends.broker_shared import SharedBroker
from pytest_ipc.brokers.server import BrokerServer
import pytest_ipc.brokers.kinds
started = time.perf_counter()
recipe = {"kind": "redis", "scope": "reuse", "backend": "container", "image": sys.argv[3]}
runtime = SharedBroker(_shared.acquire(sys.argv[1], recipe, linger=float(sys.argv[2])), reuse=True)
server = BrokerServer(runtime, runtime.name, "bench")
handle = server.isolate().open()
ready = time.perf_counter()
handle.close()
server.close()
runtime.stop()
print(json.dumps({"ready": ready - started, "container": runtime.lease.state["container_id"]}))
"""

REUSE_TOXIPROXY = """
import json, sys, time
from pytest_ipc import _shared
from pytest_ipc.backends.toxiproxy_shared import attach
from pytest_ipc.client.client import ToxiproxyClient
ToxiproxyClient("http://127.0.0.1:9").close()  # the client's lazy imports (httpx, ssl): paid with or without reuse
started = time.perf_counter()
recipe = {"kind": "toxiproxy", "scope": "reuse", "backend": "container", "image": sys.argv[3]}
lease = _shared.acquire(sys.argv[1], recipe, linger=float(sys.argv[2]))
server = attach(lease)
server.client.version()
ready = time.perf_counter()
server.client.close()
lease.release()
print(json.dumps({"ready": ready - started, "container": lease.state["container_id"]}))
"""

SUITE = """
import pika
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_publish_and_get(rabbitmq_broker, n):
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_broker.url))
    exercise(connection, n)
    connection.close()


def exercise(connection, n):
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare("orders")
    for i in range({messages}):
        channel.basic_publish("", "orders", f"order {{n}}.{{i}}".encode())
    for i in range({messages}):
        method, _, body = channel.basic_get("orders", auto_ack=True)
        assert body == f"order {{n}}.{{i}}".encode()
    assert channel.queue_declare("orders", passive=True).method.message_count == 0
    channel.queue_delete("orders")
"""

PYTEST_RABBITMQ_SUITE = """
import pytest
from test_suite import exercise


@pytest.mark.parametrize("n", range({tests}))
def test_publish_and_get(rabbitmq, n):
    exercise(rabbitmq, n)  # its fixture closes the connection and clears the node after the test
"""


def run_json(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def timed_session(
    directory: Path, *args: str, pythonpath: str = str(ROOT), env: dict[str, str] | None = None, cache: bool = False
) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *(() if cache else ("-p", "no:cacheprovider")), *args],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
    )
    elapsed = time.perf_counter() - started
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        summary = f"FAILED (exit {done.returncode}): {summary}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return elapsed, summary


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def container_reuse(rounds: int) -> None:
    """A kept Redis container and a kept fault proxy container found again by a new process, against
    their cold starts."""
    from pytest_ipc import docker_engine

    for title, code, image in (
        ("Redis container", REUSE_CONTAINER, os.environ.get("PYTEST_IPC_REDIS_IMAGE", "redis:7")),
        ("Toxiproxy container", REUSE_TOXIPROXY, os.environ.get("PYTEST_IPC_TOXIPROXY_IMAGE", "ghcr.io/shopify/toxiproxy:2.12.0")),
    ):
        reason = docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(image)
        if reason is not None:
            print(f"\n({title}: skipped, {reason})")
            continue
        key = f"bench-{os.urandom(4).hex()}"
        cold = run_json(code, key, "120", image)
        warm = [run_json(code, key, "120", image) for _ in range(rounds)]
        subprocess.run([sys.executable, "-c", f"from pytest_ipc import _shared; _shared.stop({key!r})"], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        same = {run["container"] for run in warm} == {cold["container"]}
        ready = statistics.median(run["ready"] for run in warm)
        print(f"\n{title} ({image}) with --ipc-reuse, a new session's process (median of {rounds} rounds)")
        print(f"  cold (the first session starts it)  ready {cold['ready'] * 1e3:9.1f} ms")
        print(f"  kept (found again)                  ready {ready * 1e3:9.1f} ms   (same container: {same})")
        print(f"  ratio kept/cold                     {ready / cold['ready']:9.4f}")
        print(f"  target: a kept container ready within 100 ms: {verdict(same and ready <= 0.1)}")


#: The plugins of the suite's sessions in the lean environment: a RabbitMQ project's own (pytest,
#: pytest-xdist, pytest-ipc), whatever else this environment has installed left unloaded.
LEAN = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
LEAN_PLUGINS = ("-p", "xdist.plugin", "-p", "pytest_ipc.plugin")
SUITE_ROWS = {
    "serial, one broker": (),
    "-n 2, a broker per worker": ("-n", "2", "--ipc-brokers-share", "off"),
    "-n 2, one shared broker": ("-n", "2", "--ipc-brokers-share", "workers"),
    "-n 2, shared, first run": ("-n", "2", "--ipc-brokers-share", "workers", "-p", "no:cacheprovider"),
}


def suite(environment: str, args: argparse.Namespace) -> None:
    """The N-test suite's wall time per setup, in alternating rounds (medians): a boot is CPU-bound,
    so another job on the two cores moves a single figure by a third."""
    env = LEAN if environment == "lean" else {}
    plugins = LEAN_PLUGINS if environment == "lean" else ()
    times: dict[str, list[float]] = {name: [] for name in SUITE_ROWS}
    summaries: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-shared-brokers-") as tmp:
        directory = Path(tmp)
        (directory / "pytest.ini").write_text("[pytest]\n")
        (directory / "test_suite.py").write_text(SUITE.format(tests=args.tests, messages=args.messages))
        timed_session(directory, *plugins, cache=True, env=env)  # the cache learns which brokers the suite uses
        for _ in range(args.rounds):
            for name, options in SUITE_ROWS.items():
                elapsed, summaries[name] = timed_session(directory, *plugins, *options, cache=True, env=env)
                times[name].append(elapsed)
        kept: list[float] = []
        timed_session(directory, *plugins, "-n", "2", "--ipc-reuse", env=env)  # keeps the broker for the next runs
        for _ in range(args.rounds):
            elapsed, summaries["-n 2, kept broker (--ipc-reuse)"] = timed_session(directory, *plugins, "-n", "2", "--ipc-reuse", env=env)
            kept.append(elapsed)
        times["-n 2, kept broker (--ipc-reuse)"] = kept
        timed_session(directory, *plugins, "--ipc-reuse-stop", env=env)
        extra = args.pytest_rabbitmq
        path = os.pathsep.join(filter(None, [str(ROOT), extra]))
        probe = subprocess.run(
            [sys.executable, "-c", "import pytest_rabbitmq"], env={**os.environ, "PYTHONPATH": path}, capture_output=True
        )
        if probe.returncode == 0:
            other = directory / "pytest_rabbitmq_suite"
            other.mkdir()
            (other / "pytest.ini").write_text("[pytest]\n")
            (other / "test_suite.py").write_text(SUITE.format(tests=args.tests, messages=args.messages))
            (other / "test_theirs.py").write_text(PYTEST_RABBITMQ_SUITE.format(tests=args.tests, messages=args.messages))
            # Its nodes read the system's config unless told otherwise (a Debian package listens on 5672).
            (other / "rabbitmq.conf").write_text("")
            (other / "rabbitmq-env.conf").write_text("")
            own = {"RABBITMQ_CONFIG_FILE": str(other / "rabbitmq.conf"), "RABBITMQ_CONF_ENV_FILE": str(other / "rabbitmq-env.conf"), **env}
            theirs = ("-p", "xdist.plugin", "-p", "pytest_rabbitmq.plugin") if environment == "lean" else ()
            name = "-n 2, pytest-rabbitmq's fixtures"
            times[name] = []
            for _ in range(args.rounds):
                elapsed, summaries[name] = timed_session(other, *theirs, "-n", "2", "test_theirs.py", pythonpath=path, env=own)
                times[name].append(elapsed)
        else:
            print("\n(pytest-rabbitmq is not importable: its row is skipped; pip install pytest-rabbitmq)")
    where = (
        "lean environment: pytest, pytest-xdist and pytest-ipc only (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1)"
        if environment == "lean"
        else "full environment: every pytest plugin installed here loads in each process"
    )
    print(f"\nA {args.tests}-test RabbitMQ suite, wall time of the whole pytest run, median of {args.rounds} rounds; {where}")
    for name, measured in times.items():
        shown = ", ".join(f"{value:.2f}" for value in measured)
        print(f"  {name:<34}{statistics.median(measured):8.2f} s   ({shown})   {summaries[name]}")
    def paired(row: str, baseline: str) -> float:
        """The median of the rounds' ratios: each round ran both, so a drift of the machine's speed cancels."""
        return statistics.median(a / b for a, b in zip(times[row], times[baseline], strict=True))

    shared_serial = paired("-n 2, one shared broker", "serial, one broker")
    shared_per_worker = paired("-n 2, one shared broker", "-n 2, a broker per worker")
    print(f"  ratio shared/serial {shared_serial:.2f}, shared/per-worker {shared_per_worker:.2f} (medians of the rounds' ratios)")
    print(f"  target: -n 2 with a shared broker faster than serial ({environment}): {verdict(shared_serial < 1.0)}")


def reuse(rounds: int) -> None:
    """A kept RabbitMQ, Redis container and fault proxy found again by a new process, against cold starts."""
    key = f"rabbitmq-bench-{os.urandom(4).hex()}"
    cold = run_json(REUSE, key, "120")  # starts the keeper, which outlives this process by 120 s
    warm = [run_json(REUSE, key, "120") for _ in range(rounds)]
    subprocess.run([sys.executable, "-c", f"from pytest_ipc import _shared; _shared.stop({key!r})"], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    ready, vhost = statistics.median(r["ready"] for r in warm), statistics.median(r["vhost"] for r in warm)
    print("\nRabbitMQ with --ipc-reuse, a new session's process (median of", rounds, "rounds)")
    print(f"  cold (the first session boots it)   ready {cold['ready'] * 1e3:9.1f} ms, first vhost {cold['vhost'] * 1e3:9.1f} ms")
    print(f"  kept (found again)                  ready {ready * 1e3:9.1f} ms, first vhost {vhost * 1e3:9.1f} ms")
    print(f"  ratio kept/cold (ready)             {ready / cold['ready']:9.4f}")
    print(f"  target: a kept RabbitMQ ready within 100 ms: {verdict(ready <= 0.1)}")
    with tempfile.TemporaryDirectory(prefix="bench-shared-brokers-") as tmp:
        directory = Path(tmp)
        (directory / "pytest.ini").write_text("[pytest]\n")
        (directory / "test_one.py").write_text(SUITE.format(tests=1, messages=1))
        plain = timed_session(directory)
        first = timed_session(directory, "--ipc-reuse")
        second = timed_session(directory, "--ipc-reuse")
        timed_session(directory, "--ipc-reuse-stop")
    print("  a one-test pytest session, wall time:")
    print(f"    without --ipc-reuse {plain[0]:7.2f} s; with: first {first[0]:7.2f} s, second {second[0]:7.2f} s")
    container_reuse(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--messages", type=int, default=100, help="messages each test publishes and gets")
    parser.add_argument("--pytest-rabbitmq", metavar="DIR", help="a directory with pytest-rabbitmq (pip install --target DIR)")
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument("--skip-reuse", action="store_true", help="only the teardown and the suite")
    parser.add_argument(
        "--environment", choices=("lean", "full", "both"), default="both",
        help="the suite's sessions with only pytest, xdist and pytest-ipc loaded (lean), with every installed plugin (full), or both",
    )
    args = parser.parse_args()
    print(f"load at start: {Path('/proc/loadavg').read_text().strip()}")

    boots = [run_json(BOOT) for _ in range(args.rounds)]
    installation, private = (statistics.median(r[name] for r in boots) for name in ("installation", "private"))
    print("\nRabbitMQ boot until ready (median of", args.rounds, "rounds)")
    print(f"  the installation's plugins directory {installation:8.2f} s")
    print(f"  its private home (its plugins only)  {private:8.2f} s   (ratio {private / installation:.2f})")

    teardown = [run_json(TEARDOWN) for _ in range(args.rounds)]
    shared = [run_json(SHARED_TEARDOWN) for _ in range(args.rounds)]
    bare, ours = statistics.median(r["bare"] for r in teardown), statistics.median(r["ours"] for r in teardown)
    released = statistics.median(r["released"] for r in shared)
    keeper_done = statistics.median(r["keeper_done"] for r in shared)
    print("\nRabbitMQ teardown (median of", args.rounds, "rounds)")
    print(f"  bare node, SIGKILL to its group     {bare * 1e3:9.1f} ms")
    print(f"  LocalRabbitMQ.stop()                {ours * 1e3:9.1f} ms   (+{(ours - bare) * 1e3:.1f} ms)")
    print(f"  shared: the session gives its lease {released * 1e3:9.3f} ms   (the keeper is done after {keeper_done * 1e3:.1f} ms)")
    print(f"  target: stop() within 100 ms of the bare node's: {verdict(ours - bare <= 0.1)}")

    if not args.skip_reuse:
        reuse(args.rounds)

    if args.skip_suite:
        return
    environments = ["lean", "full"] if args.environment == "both" else [args.environment]
    for environment in environments:
        suite(environment, args)
    print(f"\nload at end: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
