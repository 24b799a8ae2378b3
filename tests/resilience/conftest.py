"""A healthy price route on the stub, and sync clients (httpx and requests) closed after each test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_ipc.resilience.calls import THREAD_NAME
from pytest_ipc.stub import HttpStub, Route
from tests.resilience.clients import Policy, SyncPriceClient

PRICE = 3.5
DEFAULT = Policy()


@pytest.fixture(autouse=True)
def no_call_outlives_the_test() -> Iterator[None]:
    """Set up first, so torn down last: after the stub let go of hung requests, every call the
    assertions started (also those they gave up on) must end."""
    yield
    deadline = time.monotonic() + 3.0
    while (left := [t for t in threading.enumerate() if t.name == THREAD_NAME]) and time.monotonic() < deadline:
        left[0].join(0.05)
    assert not left, f"{len(left)} client call(s) still running after the test"


@pytest.fixture
def price_route(http_stub: HttpStub) -> Route:
    return http_stub.expect("GET", "/price").respond(json={"eur": PRICE})


@pytest.fixture(params=["httpx", "requests"])
def library(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeClient = Callable[..., SyncPriceClient]


@pytest.fixture
def sync_client(http_stub: HttpStub) -> Iterator[MakeClient]:
    """`sync_client(library, policy)`: a sync price client of that library, on the stub."""
    made: list[SyncPriceClient] = []

    def make(library: str, policy: Policy = DEFAULT) -> SyncPriceClient:
        client = SyncPriceClient(http_stub.url, policy, library=library)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_client(http_stub: HttpStub, library: str) -> Iterator[MakeClient]:
    """`make_client(policy, base_url=stub)`: a sync price client of this test's library."""
    made: list[SyncPriceClient] = []

    def make(policy: Policy = DEFAULT, base_url: str | None = None) -> SyncPriceClient:
        client = SyncPriceClient(base_url or http_stub.url, policy, library=library)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
