"""Shared fixtures of the contract tests: real Orders provider apps on loopback ports, the loopback
server the Pact verifier calls back (provider states, messages), and inner pytest sessions that load
the pytest_ipc under test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

import pytest_ipc
from pytest_ipc.contracts.callbacks import CallbackServer
from tests.contracts.contract_apps import VERSIONS, orders_app, serving


@pytest.fixture(scope="module")
def provider_urls() -> Iterator[dict[str, str]]:
    """Every Orders provider version, running at once (one uvicorn each), by version name."""
    with ExitStack() as stack:
        yield {version: stack.enter_context(serving(orders_app(version))) for version in VERSIONS}


@pytest.fixture(scope="session")
def callbacks() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _inner_sessions_import_this_checkout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pytester subprocess imports pytest_ipc from PYTHONPATH first: this checkout, not whatever
    copy is installed."""
    if "pytester" in request.fixturenames:
        checkout = str(Path(pytest_ipc.__file__).resolve().parents[1])
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [checkout, os.environ.get("PYTHONPATH")])))
