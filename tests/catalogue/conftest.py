"""The catalogue's fixtures: a price route on the stub, and no client call outliving its test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pytest_ipc.resilience.calls import THREAD_NAME
from pytest_ipc.stub import HttpStub, Route
from tests.catalogue.variants import PRICE


@pytest.fixture(autouse=True)
def no_call_outlives_the_test() -> Iterator[None]:
    """Set up first, so torn down last: once the stub let go of hung requests, every call the
    assertions started (also those they gave up on) must end."""
    yield
    deadline = time.monotonic() + 5.0
    while (left := [t for t in threading.enumerate() if t.name == THREAD_NAME]) and time.monotonic() < deadline:
        left[0].join(0.05)
    assert not left, f"{len(left)} client call(s) still running after the test"


@pytest.fixture
def price_route(http_stub: HttpStub) -> Route:
    return http_stub.expect("GET", "/price").respond(json={"eur": PRICE})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
