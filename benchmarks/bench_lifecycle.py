"""What the lifecycle costs (`pytest_ipc._lifecycle`): `python benchmarks/bench_lifecycle.py [--rounds N]`.

- sweep: the session-start sweep when there is nothing to reap (every session pays it);
- record: creating this process's owner record and removing it at a clean exit (every session);
- watch: the first `watch()` of a process (its record and the watchdog's spawn), what a process that
  starts its first private broker or container pays; and how long the watchdog itself takes until it
  waits on the record's lock (it runs beside its owner, which does not wait for it);
- reap: from SIGKILL of a process holding a local Redis until its watchdog has ended Redis and
  removed its data dir and the owner record (needs redis-server).

Each figure is measured in fresh processes (baseline: the same process doing nothing of the sort).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, os, pathlib, sys, time
started = time.perf_counter()
from pytest_ipc import _lifecycle, _owner
imported = time.perf_counter()
swept = [time.perf_counter()]
for _ in range(100):
    _lifecycle.sweep()
swept.append(time.perf_counter())
record = _owner.OwnerRecord()  # one like every session makes (not this process's own)
recorded = time.perf_counter()
record.sign_off()
signed_off = time.perf_counter()
before_watch = time.perf_counter()
watched = _lifecycle.watch()
after_watch = time.perf_counter()
def holds_record(fd):
    try:
        return os.readlink(fd) == str(watched.path)
    except OSError:  # closed meanwhile: the interpreter is still starting
        return False

fds = pathlib.Path(f"/proc/{_lifecycle.watchdog_pid()}/fd")
while not any(holds_record(fd) for fd in fds.iterdir()):  # once it holds the record, it waits on its lock
    time.sleep(0.0005)
print(json.dumps({
    "watchdog": time.perf_counter() - before_watch,
    "sweep": (swept[1] - swept[0]) / 100,
    "record": recorded - swept[1],
    "sign_off": signed_off - recorded,
    "watch": after_watch - before_watch,
}), flush=True)
sys.stdin.read()
"""

HOLDER = """
import json, sys
from pytest_ipc._owner import owner
from pytest_ipc.brokers.redis import LocalRedis
broker = LocalRedis().start()
print(json.dumps({"pid": broker.process.pid, "base": str(broker.base), "record": str(owner().path)}), flush=True)
sys.stdin.read()
"""


def spawn(code: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def finish(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    process.wait(30)
    process.stdout.close()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {name: [] for name in ("sweep", "record", "sign_off", "watch", "watchdog", "reap")}
    for _ in range(args.rounds):
        process, measured = spawn(PROBE)
        for name in ("sweep", "record", "sign_off", "watch", "watchdog"):
            figures[name].append(measured[name])
        finish(process)
        if shutil.which("redis-server"):
            holder, held = spawn(HOLDER)
            holder.kill()
            killed = time.perf_counter()
            while alive(held["pid"]) or Path(held["base"]).exists() or Path(held["record"]).exists():
                time.sleep(0.001)
            figures["reap"].append(time.perf_counter() - killed)
            finish(holder)
    units = {"sweep": 1e6, "record": 1e3, "sign_off": 1e3, "watch": 1e3, "watchdog": 1e3, "reap": 1e3}
    print(f"{'figure':<10}{'unit':>6}{'min':>10}{'median':>10}{'max':>10}")
    for name, samples in figures.items():
        if samples:
            unit = "us" if units[name] == 1e6 else "ms"
            row = [min(samples), statistics.median(samples), max(samples)]
            print(f"{name:<10}{unit:>6}" + "".join(f"{value * units[name]:>10.2f}" for value in row))


if __name__ == "__main__":
    main()
