"""The instance assertions against real clients (requests, httpx sync and async, aiohttp) that balance
over a `StubGroup` by hand: the correct one passes each, a client broken in one respect is caught,
with the message checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_ipc import faults
from pytest_ipc.resilience import (
    aio,
    assert_instance_cap,
    assert_outlier_ejected,
    assert_routes_around,
    assert_spread,
)
from pytest_ipc.stub.group import StubGroup
from tests.discovery.clients import FOREVER, AsyncOrders, Balancer, SyncOrders, fixed


@pytest.fixture(params=["requests", "httpx"])
def library(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def made(library: str) -> Iterator[list[SyncOrders]]:
    clients: list[SyncOrders] = []
    yield clients
    for client in clients:
        client.close()


def client(made: list[SyncOrders], library: str, group: StubGroup, **balancing: object) -> SyncOrders:
    orders = SyncOrders(library, Balancer(fixed(group.addresses), **balancing))  # type: ignore[arg-type]
    made.append(orders)
    return orders


def test_each_instance_is_a_stub_of_its_own(orders: StubGroup) -> None:
    assert len(set(orders.hosts)) == 3 and len({port for _, port in orders.addresses}) == 1
    orders[1].expect("GET", "/v2/order").respond(json={"id": "o-1", "version": 2})  # an API version on one instance
    import httpx

    assert httpx.get(orders.urls[1] + "/v2/order").json()["version"] == 2
    assert httpx.get(orders.urls[0] + "/v2/order").status_code == 404
    orders[0].allow_unmatched()
    assert orders.counts() == [1, 1, 0]


def test_spread(made: list[SyncOrders], library: str, orders: StubGroup) -> None:
    counts = assert_spread(orders, call=client(made, library, orders).order, calls=30)
    assert counts == [10, 10, 10]
    sticks = r"calls not spread over the 3 instances: .* measured 100% at instance 0 \(127\.0\.0\.10:\d+\): the client sticks to one"
    with pytest.raises(AssertionError, match=sticks):
        assert_spread(orders, call=client(made, library, orders, sticky=True).order)


def test_routes_around_a_failing_instance(made: list[SyncOrders], library: str, orders: StubGroup) -> None:
    assert_routes_around(orders, 1, call=client(made, library, orders, eject_for=5.0).order)
    keeps = (
        r"the client keeps calling a failing instance: after instance 1 \(127\.0\.0\.11:\d+\) first failed \(status-503\), "
        r"\d+ more request\(s\) of 20 calls reached it"
    )
    with pytest.raises(AssertionError, match=keeps):
        assert_routes_around(orders, 1, call=client(made, library, orders, eject_for=None).order)


def test_ejects_an_outlier_and_takes_it_back(made: list[SyncOrders], library: str, orders: StubGroup) -> None:
    assert_outlier_ejected(orders, 2, call=client(made, library, orders, eject_for=0.5).order, cool_down=0.5, failure=faults.reset())
    never_back = r"the ejected instance was never taken back: instance 2 .* healed, and 0.50 s \(cool_down\) after"
    with pytest.raises(AssertionError, match=never_back):
        assert_outlier_ejected(orders, 2, call=client(made, library, orders, eject_for=FOREVER).order, cool_down=0.5)


def test_keeps_its_per_instance_limit(made: list[SyncOrders], library: str, orders: StubGroup) -> None:
    assert max(assert_instance_cap(orders, 2, call=client(made, library, orders, per_instance=2).order)) == 2
    exceeded = r"per-instance limit exceeded: expected at most 2 request\(s\) in flight at each instance, measured [3-9]"
    with pytest.raises(AssertionError, match=exceeded):
        assert_instance_cap(orders, 2, call=client(made, library, orders, per_instance=None).order)


@pytest.mark.asyncio
@pytest.mark.parametrize("async_library", ["httpx", "aiohttp"])
async def test_async_forms(orders: StubGroup, async_library: str) -> None:
    def make(**balancing: object) -> AsyncOrders:
        return AsyncOrders(async_library, Balancer(fixed(orders.addresses), **balancing))  # type: ignore[arg-type]

    good, sticky, stubborn, unbounded = make(eject_for=5.0, per_instance=2), make(sticky=True), make(eject_for=None), make()
    fresh, capped = make(eject_for=0.4), make(per_instance=2)
    try:
        await aio.assert_spread(orders, call=good.order)
        with pytest.raises(AssertionError, match=r"calls not spread .* the client sticks to one instance"):
            await aio.assert_spread(orders, call=sticky.order)
        await aio.assert_routes_around(orders, 0, call=good.order)
        with pytest.raises(AssertionError, match=r"the client keeps calling a failing instance"):
            await aio.assert_routes_around(orders, 0, call=stubborn.order)
        await aio.assert_outlier_ejected(orders, 1, call=fresh.order, cool_down=0.4)
        await aio.assert_instance_cap(orders, 2, call=capped.order)
        with pytest.raises(AssertionError, match=r"per-instance limit exceeded"):
            await aio.assert_instance_cap(orders, 2, call=unbounded.order)
    finally:
        for each in (good, sticky, stubborn, unbounded, fresh, capped):
            await each.close()


def test_bad_input(orders: StubGroup, http_stub_group: object) -> None:
    from pytest_ipc.resilience import ResilienceUsageError

    with pytest.raises(ResilienceUsageError, match=r"failing is the index of an instance, from 0 to 2, got 3"):
        assert_routes_around(orders, 3, call=lambda: None)
    with pytest.raises(ResilienceUsageError, match=r"max_share is a fraction from 1/3"):
        assert_spread(orders, call=lambda: None, max_share=0.1)
    with pytest.raises(ResilienceUsageError, match=r"expected a StubGroup"):
        assert_spread(object(), call=lambda: None)  # type: ignore[arg-type]
