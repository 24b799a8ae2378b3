"""The built distribution works for a new user: a fresh virtual environment outside this repository,
the wheel with its core dependencies only, and a one-test session with the plugin loaded.

Checks what a user would notice first: the session passes and prints no warning, the plugin leaves
the process environment as it found it, Faker's pytest plugin is not dragged in, and the plugin's
cost on that session stays small (the precise figure is `benchmarks/bench_overhead.py`'s).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OVERHEAD_BOUND = 0.25  # seconds: generous for a loaded 2-core machine; the benchmark's target is 50 ms

ONE_TEST = '''
import json, os, pathlib

def test_environment_is_untouched():
    before = json.loads(pathlib.Path(os.environ["ENV_BEFORE"]).read_text())
    after = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_") and key != "ENV_BEFORE"}
    assert after == before
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `python -m build` makes from the sdist it makes first (so the sdist builds too, and
    nothing is built inside the checkout); both pass `twine check`."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("pytest_ipc-*.whl")
    (sdist,) = out.glob("pytest_ipc-*.tar.gz")
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(built), str(sdist)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml", "pytest_ipc/py.typed"} <= names, sorted(names)
    return built


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new venv holding the wheel and its core dependencies, nothing of this checkout."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True, env=clean_environment())
    return python


def clean_environment() -> dict[str, str]:
    """The environment without this checkout's traces (a PYTHONPATH to it would make pip think the
    wheel is installed already) and without pytest settings of the outer session."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "PYTHON"))}


def run_session(python: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = clean_environment()
    (project / "env.json").write_text(json.dumps(environment))
    environment["ENV_BEFORE"] = str(project / "env.json")
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_a_fresh_install_runs_a_clean_session(fresh_python: Path, tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text(ONE_TEST)
    (tmp_path / "env.json").write_text("{}")
    result = run_session(fresh_python, tmp_path, "-W", "error")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout
    plugins = next(line for line in result.stdout.splitlines() if line.startswith("plugins:"))
    assert "ipc-" in plugins and "Faker" not in plugins, plugins
    listed = subprocess.run([str(fresh_python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True)
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert not installed & {"faker", "pact-python", "testcontainers", "pika", "fastavro"}, "core install pulled an extra"


@pytest.mark.slow
def test_the_plugin_costs_little_on_a_one_test_session(fresh_python: Path, tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text(ONE_TEST)

    def seconds(*args: str) -> float:
        started = time.perf_counter()
        assert run_session(fresh_python, tmp_path, "-q", *args).returncode == 0
        return time.perf_counter() - started

    with_plugin, without = [], []
    for _ in range(5):  # interleaved, so a busy moment hits both
        with_plugin.append(seconds())
        without.append(seconds("-p", "no:ipc"))
    overhead = statistics.median(with_plugin) - statistics.median(without)
    assert overhead < OVERHEAD_BOUND, (
        f"the plugin added {overhead * 1000:.0f} ms to a one-test session (bound {OVERHEAD_BOUND * 1000:.0f} ms)"
    )
