"""The shop's client against the real orders service, through the fault proxy: TCP-level faults.

Latency, a hung connection, connection resets and an outage, injected between the shop and the
Starlette app with the plugin's Toxiproxy-compatible proxy.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pybreaker
import pytest
from orders_service import OrderStore
from shop.client import OrdersClient, OrdersUnavailable
from shop.orders import OrderView

from pytest_ipc.client.proxy import Proxy
from pytest_ipc.client.scoped import ScopedToxiproxy
from pytest_ipc.report import Outcome, ReportHandle

from .conftest import ClientFactory

DEPENDENCY = "orders-api (proxy)"


@pytest.fixture
def orders_proxy(toxiproxy: ScopedToxiproxy, orders_api: str) -> Proxy:
    return toxiproxy.create_proxy(upstream=orders_api.removeprefix("http://"))


@pytest.fixture
def known_order(orders_store: OrderStore) -> OrderView:
    order = orders_store.add("MUG-3", 1, 900)
    return OrderView(order.id, "placed", "MUG-3", 1, 900, "EUR")


@pytest.fixture
def client(orders_proxy: Proxy, make_client: ClientFactory, known_order: OrderView) -> OrdersClient:
    """A client through the proxy that has shown (and cached) the known order already."""
    client = make_client(orders_proxy.url, timeout_s=0.25, attempts=2, deadline_s=1.0)
    client.cache.put(known_order.id, known_order)  # warmed without a request: a slow CI box cannot fail it
    return client


def test_latency_within_the_timeout_is_absorbed(client: OrdersClient, orders_proxy: Proxy, known_order: OrderView,
                                                ipc_report: ReportHandle) -> None:
    with orders_proxy.latency(0.1), ipc_report.measure(DEPENDENCY, "latency-100ms") as attempt:
        assert client.get_order(known_order.id) == known_order
        attempt.outcome = Outcome.RECOVERED
    assert attempt.latency >= 0.1


def test_hung_connection_falls_back_to_the_cache_within_the_deadline(
    client: OrdersClient, orders_proxy: Proxy, known_order: OrderView, ipc_report: ReportHandle
) -> None:
    with orders_proxy.timeout(0), ipc_report.measure(DEPENDENCY, "hang") as attempt:
        assert client.get_order(known_order.id) == replace(known_order, stale=True)
        attempt.outcome = Outcome.SERVED_FALLBACK
    assert 0.25 * 2 <= attempt.latency < 1.0 + 0.5  # both attempts timed out, within the deadline


def test_connection_resets_fall_back_to_the_cache(
    client: OrdersClient, orders_proxy: Proxy, known_order: OrderView, ipc_report: ReportHandle
) -> None:
    with orders_proxy.reset_peer(), ipc_report.measure(DEPENDENCY, "reset") as attempt:
        assert client.get_order(known_order.id) == replace(known_order, stale=True)
        attempt.outcome = Outcome.SERVED_FALLBACK
    assert client.get_order(known_order.id) == known_order  # fresh again once the network heals


def test_outage_without_a_cached_answer_fails_fast_then_recovers(
    client: OrdersClient, orders_proxy: Proxy, orders_store: OrderStore, ipc_report: ReportHandle
) -> None:
    never_seen = orders_store.add("LAMP-4", 1, 4500)
    with orders_proxy.down():
        with pytest.raises(OrdersUnavailable), ipc_report.measure(DEPENDENCY, "outage") as attempt:
            attempt.outcome = Outcome.FAILED_FAST
            client.get_order(never_seen.id)
        assert attempt.latency < 0.25  # refused connections, no timeout waited out
    with ipc_report.measure(DEPENDENCY, "outage-healed") as attempt:
        assert client.get_order(never_seen.id).stale is False
        attempt.outcome = Outcome.RECOVERED


def test_breaker_opens_during_an_outage_and_closes_after_its_cool_down(
    orders_proxy: Proxy, make_client: ClientFactory, orders_store: OrderStore, ipc_report: ReportHandle
) -> None:
    order = orders_store.add("DESK-6", 1, 15000)
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=0.5)
    client = make_client(orders_proxy.url, attempts=1, breaker=breaker, cache_ttl_s=0)
    client.get_order(order.id)  # token fetched, connection pooled
    with orders_proxy.down():
        for _ in range(2):
            with pytest.raises(OrdersUnavailable):
                client.get_order(order.id)
    assert breaker.current_state == "open"
    connections_before = orders_proxy.counters().connections_accepted
    with pytest.raises(OrdersUnavailable, match="circuit open"), ipc_report.measure(DEPENDENCY, "breaker open") as attempt:
        attempt.outcome = Outcome.FAILED_FAST
        client.get_order(order.id)  # the service is back, but the breaker does not know yet
    assert orders_proxy.counters().connections_accepted == connections_before, "an open breaker must not connect"
    time.sleep(0.6)  # the breaker's cool-down: nothing to poll, waiting is the point
    with ipc_report.measure(DEPENDENCY, "breaker cool-down") as attempt:
        assert client.get_order(order.id).stale is False
        attempt.outcome = Outcome.RECOVERED
    assert breaker.current_state == "closed"
