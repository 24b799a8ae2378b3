"""Root conftest of pytest-ipc's own test suite (not part of the plugin users load).

pytester runs whole pytest sessions in tests that check fixtures end to end. The markers `slow`
and `docker` belong to this suite only: docker-marked tests skip with the engine's own reason when
no Docker engine answers (one ping per session). Slow tests (whole sessions killed by signals,
load, clusters, containers' cleanup, the README's examples) run in CI (the `CI` environment
variable, which `.ci/run` sets), with `--run-slow`, or when picked by `-m` or by node id; a plain
`python -m pytest -n 2` leaves them out, to stay a few minutes long.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_ipc.docker_engine import docker_unavailable_reason

pytest_plugins = ["pytester"]

MARKERS = {
    "slow": "takes more than a few seconds (brokers that boot slowly, load tests)",
    "docker": "needs a reachable Docker engine; skipped with the reason when none answers",
}

#: Entry-point plugins of installed packages that no session of this suite needs (see below).
UNUSED_PLUGINS = ("schemathesis", "benchmark")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the tests marked slow (CI runs them)")


def runs_slow(config: pytest.Config) -> bool:
    """Whether this run includes the slow tests: in CI, when asked, or when the user picked tests."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    picked = bool(config.option.markexpr) or any("::" in argument for argument in config.args)
    return in_ci or picked or bool(config.getoption("--run-slow"))


def pytest_report_header(config: pytest.Config) -> str | None:
    if runs_slow(config):
        return None
    return "slow tests: left out (CI runs them; here: --run-slow, or -m slow)"


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    allow_bytecode_cache()
    skip_unused_plugins()


def allow_bytecode_cache() -> None:
    """Let this suite's Python processes keep compiled bytecode, whatever the machine says.

    With PYTHONDONTWRITEBYTECODE set (as on some CI images), every pytest this suite starts (xdist
    workers, pytester subprocesses, fresh sessions after a signal) compiles and assertion-rewrites
    every module of the plugin and of the pytest plugins again: 3 s instead of 1 s per start, which
    made up a third of the suite's time. Only this suite's own processes are affected; the workers
    and subprocesses inherit it because they start after configuration.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


def skip_unused_plugins() -> None:
    """Start this suite's inner pytest sessions without third-party plugins none of them uses.

    The `openapi` extra installs schemathesis, whose entry-point plugin costs every pytest start
    0.7 s here (it imports schemathesis and hypothesis); pytest-benchmark only warns under xdist. The
    suite starts hundreds of sessions and none of them uses these plugins (`openapi_operation` drives
    schemathesis itself). Hypothesis's own plugin stays: without it, hypothesis believes it is still
    being imported and warns about every strategy built in a test. The suite's own session leaves
    schemathesis out through `addopts` in pyproject.toml; inner sessions read `PYTEST_ADDOPTS`.
    """
    options = os.environ.get("PYTEST_ADDOPTS", "")
    unused = [f"-p no:{name}" for name in UNUSED_PLUGINS if f"no:{name}" not in options]
    if unused:
        os.environ["PYTEST_ADDOPTS"] = " ".join([options, *unused]).strip()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not runs_slow(config):
        slow = [item for item in items if item.get_closest_marker("slow") is not None]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if item.get_closest_marker("slow") is None]
    # Slow tests first (a stable sort): pytest-xdist hands them out while every worker is busy anyway,
    # instead of one worker finishing a 20 s test alone at the end of the run.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    docker_items = [item for item in items if item.get_closest_marker("docker") is not None]
    reason = docker_unavailable_reason() if docker_items else None
    if reason is not None:
        for item in docker_items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def docker_client() -> Iterator[Any]:
    """A Docker SDK client of the engine the suite uses (DOCKER_HOST), closed after the test."""
    import docker

    client = docker.from_env()
    yield client
    client.close()
