"""Shared by the container tests: skip without an engine, a Docker client, and backend cleanup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_ipc.backends.container import ContainerBackend


@pytest.fixture
def docker_client() -> Iterator[Any]:
    import docker

    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def backends() -> Iterator[list[ContainerBackend]]:
    """Backends a test starts; stopped at teardown even when the test fails half-way."""
    started: list[ContainerBackend] = []
    yield started
    for backend in started:
        backend.stop()

