"""A service of three instances, each answering GET /order with its own id (instance i: "o-i")."""

from __future__ import annotations

import pytest

from pytest_ipc.stub.group import StubGroup, StubGroups


@pytest.fixture
def orders(http_stub_group: StubGroups) -> StubGroup:
    group = http_stub_group(3)
    for index, stub in enumerate(group):
        stub.expect("GET", "/order").respond(json={"id": f"o-{index}"})
    return group


@pytest.fixture
def named_orders(http_stub_group: StubGroups) -> StubGroup:
    """The same service, with A and SRV records in ipc_dns under orders.ipc.test (TTL 1 s)."""
    group = http_stub_group(3, service="orders", ttl=1)
    for index, stub in enumerate(group):
        stub.expect("GET", "/order").respond(json={"id": f"o-{index}"})
    return group
