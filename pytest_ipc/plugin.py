"""pytest-ipc's entry point: registers the fixture modules of each area and the shared markers.

Each area keeps its options and fixtures in `pytest_ipc.fixtures.<area>`; the work itself lives in
the area's own package, so this file stays a table of contents.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "pytest_ipc.fixtures.toxiproxy",
]

MARKERS = {
    "slow": "takes more than a few seconds (brokers that boot slowly, load tests)",
    "docker": "needs a reachable Docker engine; skipped with the reason when none answers",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
