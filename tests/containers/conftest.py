"""Shared by the container tests: backend cleanup, and sessions a failing test left
running killed (`kill_unfinished`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_ipc.backends.container import ContainerBackend
from tests.reliability.sessions import kill_unfinished  # noqa: F401  (autouse)


@pytest.fixture
def backends() -> Iterator[list[ContainerBackend]]:
    """Backends a test starts; stopped at teardown even when the test fails half-way."""
    started: list[ContainerBackend] = []
    yield started
    for backend in started:
        backend.stop()

