"""Shared fixtures of the contract tests: real Orders provider apps on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from .contract_apps import VERSIONS, orders_app, serving


@pytest.fixture(scope="module")
def provider_urls() -> Iterator[dict[str, str]]:
    """Every Orders provider version, running at once (one uvicorn each), by version name."""
    with ExitStack() as stack:
        yield {version: stack.enter_context(serving(orders_app(version))) for version in VERSIONS}
