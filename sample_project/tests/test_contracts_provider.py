"""Provider side: the real orders service and the real event publisher honour the shop's pacts.

One test per interaction of the published pacts in `sample_project/pacts/` (the `pact_provider`
marker parametrizes them); provider states put the service in the state each interaction needs.
The event contract is also checked against an event really published on Redis.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from orders_service import Order, OrderStore, TokenIssuer
from shop.events import OrderEvent, OrderEventPublisher, OrderEventSubscriber

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.contracts import (
    ProviderStates,
    PublishedMessage,
    assert_message_matches_pact,
)
from pytest_ipc.contracts.verification import PactCase

from .eventually import Collected, wait_until

PACTS = Path(__file__).parent.parent / "pacts"
pytestmark = pytest.mark.xdist_group("contracts")  # see test_tolerant_reader.py


@pytest.fixture
def orders_states(orders_store: OrderStore, token_issuer: TokenIssuer) -> ProviderStates:
    states = ProviderStates()

    def holds_token(params: dict[str, str]) -> None:
        token_issuer.accept(params["token"])

    def order_exists(params: dict[str, int]) -> None:
        orders_store.put(Order(int(params["id"]), "BOOK-1", 2, 1250))

    def no_order_exists() -> None:
        orders_store.orders.pop(404, None)

    states.register("the shop holds a service token", holds_token)
    states.register("an order exists", order_exists)
    states.register("no order exists", no_order_exists)
    return states


@pytest.mark.pact_provider("orders", pact_dir=str(PACTS))
def test_orders_service_honours_the_shop_pact(
    pact_interaction: PactCase, orders_api: str, orders_states: ProviderStates
) -> None:
    pact_interaction.verify(orders_api, states=orders_states)


@pytest.mark.pact_provider("order-events", pact_dir=str(PACTS))
def test_order_events_honour_the_shop_pact(pact_interaction: PactCase) -> None:
    def order_placed() -> PublishedMessage:
        return PublishedMessage(OrderEvent("order.placed", 7).to_json().encode(), "application/json")

    pact_interaction.verify(messages={"an order placed event": order_placed})


def test_event_published_on_redis_matches_the_pact(redis_broker: IsolatedBroker) -> None:
    channel = redis_broker.name("order-events")
    received = Collected()
    with redis.Redis.from_url(redis_broker.url) as client, OrderEventSubscriber(client, channel, received):
        assert OrderEventPublisher(client, channel).publish(OrderEvent("order.placed", 9)) == 1
        wait_until(lambda: bool(received.items), "the published event")
    event = received.items[0]
    assert isinstance(event, OrderEvent)
    published = PublishedMessage(event.to_json().encode(), "application/json")
    assert_message_matches_pact(PACTS / "shop-order-events.json", "an order placed event", published)
