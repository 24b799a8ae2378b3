"""Provider side, in process: real provider apps verified against pacts a real consumer wrote."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc.contracts import (
    ContractError,
    ProviderStates,
    PublishedMessage,
    UnknownProviderState,
    provider_state,
)
from pytest_ipc.contracts.callbacks import CallbackServer
from pytest_ipc.contracts.pactfile import PactInteractionRef, interaction_refs
from pytest_ipc.contracts.verification import verify_interaction

from .contract_apps import ORDERS
from .contract_pacts import write_events_pact, write_orders_pact

STATES = ProviderStates()


@provider_state("an order exists", registry=STATES)
def an_order_exists(params: dict[str, Any]) -> Iterator[None]:
    order_id = int(params.get("id", 1))
    ORDERS[order_id] = {"id": order_id, "item": "pen", "quantity": 2, "status": "placed", "total": 19.0}
    yield
    ORDERS.pop(order_id, None)


@provider_state("no orders exist", registry=STATES)
def no_orders_exist() -> None:
    ORDERS.clear()


@pytest.fixture(scope="module")
def pacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pacts")
    return {
        "V1": write_orders_pact(directory, "V1"),
        "V2": write_orders_pact(directory, "V2"),
        "events": write_events_pact(directory),
    }


def interaction(pact_file: Path, description: str) -> PactInteractionRef:
    return next(ref for ref in interaction_refs(pact_file) if ref.description == description)


@pytest.mark.parametrize("consumer", ["V1", "V2"])
def test_old_and_new_consumers_both_pass_against_the_v2_provider(
    consumer: str, pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    refs = interaction_refs(pacts[consumer])
    assert len(refs) == 4
    for ref in refs:
        result = verify_interaction(ref, callbacks, base_url=provider_urls["v2"], states=STATES)
        assert result["result"] is True, ref.test_id


def test_v1_consumer_passes_against_the_v1_provider_including_xml(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    for ref in interaction_refs(pacts["V1"]):
        verify_interaction(ref, callbacks, base_url=provider_urls["v1"], states=STATES)


def test_provider_that_breaks_the_contract_lists_every_mismatch(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    ref = interaction(pacts["V1"], "a request for order 1")
    with pytest.raises(ContractError) as caught:
        verify_interaction(ref, callbacks, base_url=provider_urls["breaking"], states=STATES)
    error = caught.value
    assert str(error).splitlines() == [
        "Orders breaks the contract 'OrdersWebV1 -> Orders: a request for order 1 (given an order exists: id=1)':",
        "  - BodyMismatch $.total: Expected '19.0' (String) to be a number",
        "  - BodyMismatch $: Actual map is missing the following keys: status",
    ]
    assert error.result["result"] is False and error.result["errors"], "the structured result is attached"


def test_provider_that_requires_a_new_field_fails_the_old_consumer(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    ref = interaction(pacts["V1"], "an order is placed")
    with pytest.raises(ContractError, match="an order is placed") as caught:
        verify_interaction(ref, callbacks, base_url=provider_urls["strict"], states=STATES)
    assert any("201" in line and "422" in line for line in caught.value.mismatches), caught.value.mismatches


def test_robust_provider_fills_in_the_default_for_a_missing_optional_field(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    ORDERS.clear()
    verify_interaction(interaction(pacts["V1"], "an order is placed"), callbacks, base_url=provider_urls["v2"])
    (created,) = ORDERS.values()
    assert created["gift_wrap"] is False


def test_new_consumer_against_the_old_provider_fails(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    with pytest.raises(ContractError, match="missing the following keys: currency"):
        verify_interaction(
            interaction(pacts["V2"], "a request for order 1"),
            callbacks,
            base_url=provider_urls["v1"],
            states=STATES,
        )


def test_state_handlers_run_on_the_test_thread(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    """A thread-bound resource of the test (an SQLite connection) works inside a state handler."""
    database = sqlite3.connect(":memory:")  # refuses use from any other thread
    threads: list[threading.Thread] = []
    states = ProviderStates()

    @provider_state("an order exists", registry=states)
    def seeded_from_the_database(params: dict[str, Any]) -> None:
        threads.append(threading.current_thread())
        (item,) = database.execute("select 'pen'").fetchone()
        ORDERS[params["id"]] = {"id": params["id"], "item": item, "quantity": 2, "status": "placed", "total": 19.0}

    verify_interaction(
        interaction(pacts["V1"], "a request for order 1"), callbacks, base_url=provider_urls["v1"], states=states
    )
    assert threads == [threading.current_thread()]
    database.close()


class DatabaseDown(Exception):
    pass


def test_raising_state_handler_fails_fast_with_the_original_exception(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    states = ProviderStates()

    @provider_state("an order exists", registry=states)
    def broken() -> None:
        raise DatabaseDown("orders table is locked")

    started = time.monotonic()
    with pytest.raises(DatabaseDown, match="orders table is locked") as caught:
        verify_interaction(
            interaction(pacts["V1"], "a request for order 1"),
            callbacks,
            base_url=provider_urls["v1"],
            states=states,
        )
    assert time.monotonic() - started < 10, "pact-python's own handler retries for about 2 minutes"
    assert any("OrdersWebV1 -> Orders: a request for order 1" in note for note in caught.value.__notes__)


def test_unknown_state_names_the_registered_ones(
    pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    with pytest.raises(UnknownProviderState, match="'an order exists'.*registered states: 'no orders exist'"):
        only_empty = ProviderStates()
        only_empty.register("no orders exist", lambda: None)
        verify_interaction(
            interaction(pacts["V1"], "a request for order 1"),
            callbacks,
            base_url=provider_urls["v1"],
            states=only_empty,
        )


def order_placed_event() -> PublishedMessage:
    return PublishedMessage(b'{"order_id": 42, "status": "paid"}', metadata={"routing_key": "orders.placed"})


def test_message_provider_that_honours_the_pact_passes(pacts: dict[str, Path], callbacks: CallbackServer) -> None:
    ref = interaction(pacts["events"], "an order placed event")
    assert ref.is_message
    verify_interaction(ref, callbacks, messages={"an order placed event": order_placed_event})


def test_message_provider_that_breaks_the_pact_fails(pacts: dict[str, Path], callbacks: CallbackServer) -> None:
    def renamed_field() -> object:
        return {"orderId": 42, "status": "shipped"}

    with pytest.raises(ContractError) as caught:
        verify_interaction(
            interaction(pacts["events"], "an order placed event"),
            callbacks,
            messages={"an order placed event": renamed_field},
        )
    text = "\n".join(caught.value.mismatches)
    assert "order_id" in text and "shipped" in text and "routing_key" in text, text


def test_message_producer_that_raises_fails_with_its_exception(
    pacts: dict[str, Path], callbacks: CallbackServer
) -> None:
    def producer() -> object:
        raise DatabaseDown("outbox unavailable")

    with pytest.raises(DatabaseDown, match="outbox unavailable"):
        verify_interaction(
            interaction(pacts["events"], "an order placed event"),
            callbacks,
            messages={"an order placed event": producer},
        )
