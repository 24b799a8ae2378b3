"""What the plugin costs where it is installed: `python benchmarks/bench_overhead.py [--rounds N]`.

A project with one trivial test runs as a whole pytest process, with the plugin and with
``-p no:ipc`` (the baseline, same interpreter and packages), interleaved so a busy moment hits
both. Prints the medians and their difference, and which of the plugin's modules cost most to import
(``python -X importtime``). Target: the plugin adds at most 50 ms.

By default it measures a fresh virtual environment holding the built wheel and its core
dependencies only, as a new user has it (other plugins installed beside it would pay for imports the
plugin shares with them, and hide its cost); ``--here`` measures the current environment instead.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET = 0.050


def fresh_python(directory: Path) -> Path:
    """A new venv with the wheel built from this checkout and its core dependencies."""
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(directory / "dist"), str(ROOT)], check=True, capture_output=True
    )  # sdist, then the wheel from it: nothing is built inside the checkout
    venv.EnvBuilder(with_pip=True).create(directory / "venv")
    python = directory / "venv" / "bin" / "python"
    (wheel,) = (directory / "dist").glob("*.whl")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    return python


def session(python: Path, project: Path, *args: str) -> float:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "PYTHON"))}
    started = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=project, env=environment, check=True, capture_output=True
    )
    return time.perf_counter() - started


def heaviest_imports(python: Path, project: Path, count: int = 8) -> list[tuple[int, str]]:
    """The plugin's own modules with the largest cumulative import time (microseconds)."""
    trace = subprocess.run(
        [str(python), "-X", "importtime", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--co"],
        cwd=project,
        capture_output=True,
        text=True,
    ).stderr
    rows = [(int(cumulative), name.strip()) for cumulative, name in re.findall(r"\|\s*(\d+) \|(.*)$", trace, re.M)]
    return sorted((row for row in rows if row[1].lstrip().startswith("pytest_ipc")), reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--here", action="store_true", help="measure this environment, not a fresh venv with core dependencies")
    arguments = parser.parse_args()
    rounds = arguments.rounds
    with tempfile.TemporaryDirectory() as directory:
        python = Path(sys.executable) if arguments.here else fresh_python(Path(directory))
        project = Path(directory) / "project"
        project.mkdir()
        (project / "test_one.py").write_text("def test_one():\n    pass\n")
        session(python, project)  # warm the file cache
        with_plugin, without = [], []
        for _ in range(rounds):
            with_plugin.append(session(python, project))
            without.append(session(python, project, "-p", "no:ipc"))
        imports = heaviest_imports(python, project)
    added = statistics.median(with_plugin) - statistics.median(without)
    where = "this environment" if arguments.here else "a fresh venv, core dependencies only"
    print(f"pytest-ipc plugin overhead on a one-test session ({where}; {rounds} interleaved rounds)")
    print(f"  without the plugin (-p no:ipc)  median {statistics.median(without) * 1000:7.1f} ms  baseline")
    print(f"  with the plugin                 median {statistics.median(with_plugin) * 1000:7.1f} ms")
    verdict = "PASS" if added <= TARGET else "MISS"
    print(f"  added                                  {added * 1000:7.1f} ms  target <= {TARGET * 1000:.0f} ms  {verdict}")
    print("  heaviest plugin imports (cumulative):")
    for micros, name in imports:
        print(f"    {micros / 1000:6.1f} ms  {name}")


if __name__ == "__main__":
    main()
