"""A load process (echo upstream plus clients, outside this process) and a fault proxy in front of it;
sessions a failing test leaves running are killed (`kill_unfinished`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_ipc.client.client import ToxiproxyClient
from pytest_ipc.toxiproxy import EmbeddedToxiproxy
from tests.reliability.load import LoadProcess, ProxiedEcho
from tests.reliability.sessions import kill_unfinished  # noqa: F401  (autouse)


@pytest.fixture(scope="module")
def load_process() -> Iterator[LoadProcess]:
    with LoadProcess() as process:
        yield process


@pytest.fixture
def proxied_echo(load_process: LoadProcess) -> Iterator[ProxiedEcho]:
    with EmbeddedToxiproxy() as server, ToxiproxyClient(server.url, timeout=30.0) as client:
        yield ProxiedEcho(server, client, client.create_proxy("echo", load_process.upstream))

