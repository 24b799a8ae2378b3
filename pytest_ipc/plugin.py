"""pytest-ipc's entry point: registers the fixture modules of each area and the shared markers.

Each area keeps its options and fixtures in `pytest_ipc.fixtures.<area>`; the work itself lives in
the area's own package, so this file stays a table of contents.
"""

from __future__ import annotations

import pytest

from pytest_ipc.docker_engine import skip_docker_items

pytest_plugins = [
    "pytest_ipc.fixtures.toxiproxy",
    "pytest_ipc.fixtures.stub",
    "pytest_ipc.fixtures.contracts",
    "pytest_ipc.fixtures.brokers",
    "pytest_ipc.fixtures.resilience",
    "pytest_ipc.fixtures.report",
    "pytest_ipc.fixtures.network",
]

MARKERS = {
    "slow": "takes more than a few seconds (brokers that boot slowly, load tests)",
    "docker": "needs a reachable Docker engine; skipped with the reason when none answers",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Docker-marked tests skip with the engine's own reason when none answers (one ping)."""
    skip_docker_items(items)
