"""Provider side, in process: real provider apps verified against pacts a real consumer wrote."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pact import match

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.contracts import (
    ContractError,
    ManagedPact,
    ProviderStates,
    PublishedMessage,
    UnknownProviderState,
    provider_state,
)
from pytest_ipc.contracts.callbacks import CallbackServer
from pytest_ipc.contracts.merge import SessionFacts, Written, merge_pair
from pytest_ipc.contracts.pactfile import (
    PactInteractionRef,
    interaction_refs,
    load_pact,
    write_atomically,
)
from pytest_ipc.contracts.verification import verify_interaction
from tests.contracts.contract_apps import ORDERS, TOKEN
from tests.contracts.contract_pacts import write_events_pact, write_orders_pact

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
    with pytest.raises(UnknownProviderState, match=r"'an order exists'.*registered states: 'no orders exist'"):
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


def one_interaction_pact(directory: Path, provider: str, *states: tuple[str, dict[str, Any]]) -> Path:
    """Consumer "Web" reads order 1 from `provider`, given `states`."""
    pact = ManagedPact("Web", provider)
    interaction = pact.upon_receiving("a request for order 1")
    for name, params in states:
        interaction = interaction.given(name, **params)
    interaction.with_request("GET", "/orders/1").will_respond_with(200).with_body({"id": match.int(1)})
    with pact.serve() as server:
        httpx.get(f"{server.url}/orders/1")
    pact.write_file(directory, overwrite=True)
    return directory / f"Web-{provider}.json"


def test_two_providers_that_know_the_same_state_do_not_clash(
    tmp_path: Path, provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    """False pass of the registry: one global registry, so two providers' "a user exists" clashed
    at import (or one provider ran the other's handler)."""
    ran: list[str] = []

    @provider_state("an order exists", provider="RegistryA")
    def for_a() -> None:
        ran.append("A")

    @provider_state("an order exists", provider="RegistryB")
    def for_b() -> None:
        ran.append("B")
        ORDERS[1] = {"id": 1, "item": "pen", "quantity": 2, "status": "placed", "total": 19.0}

    (ref,) = interaction_refs(one_interaction_pact(tmp_path, "RegistryB", ("an order exists", {})))
    verify_interaction(ref, callbacks, base_url=provider_urls["v1"])
    assert ran == ["B"]
    with pytest.raises(IpcUsageError, match="exactly one of provider="):
        provider_state("an order exists")


def test_each_item_verifies_its_own_description_and_states(
    tmp_path: Path, provider_urls: dict[str, str], callbacks: CallbackServer
) -> None:
    """False pass: items filtered by description only, so one description with two states made each
    item verify both (and a broken one hid behind the other's id)."""
    written = []
    for number in (1, 2):  # two tests of a parametrized consumer: one pact each, merged
        pact = ManagedPact("Web", "Orders")
        (
            pact.upon_receiving("a request for an order").given("an order exists", id=number)
            .with_request("GET", f"/orders/{number}").will_respond_with(200).with_body({"id": match.int(number)})
        )
        with pact.serve() as server:
            httpx.get(f"{server.url}/orders/{number}")
        pact.write_file(tmp_path / str(number), overwrite=True)
        written.append(Written(f"test_orders.py::test_order[{number}]", load_pact(tmp_path / str(number) / "Web-Orders.json")))
    merged = merge_pair(tmp_path, None, written, SessionFacts(tmp_path, frozenset(), lambda test: False)).document
    assert merged is not None
    write_atomically(tmp_path / "Web-Orders.json", merged)
    refs = interaction_refs(tmp_path / "Web-Orders.json")
    assert [ref.test_id for ref in refs] == [
        "Web -> Orders: a request for an order (given an order exists: id=1)",
        "Web -> Orders: a request for an order (given an order exists: id=2)",
    ]
    ORDERS.clear()
    ORDERS[2] = {"id": 2, "item": "pen", "quantity": 2, "status": "placed", "total": 19.0}
    only_order_2 = ProviderStates("Orders")
    only_order_2.register("an order exists", lambda: None)
    with pytest.raises(ContractError, match="expected 200 but was 404"):
        verify_interaction(refs[0], callbacks, base_url=provider_urls["v1"], states=only_order_2)
    result = verify_interaction(refs[1], callbacks, base_url=provider_urls["v1"], states=only_order_2)
    (verified,) = result["interactionResults"]
    assert verified["description"] == "a request for an order"


def test_values_returned_by_a_state_handler_reach_the_verifier(provider_urls: dict[str, str], callbacks: CallbackServer) -> None:
    """False pass: the values a state handler returned were dropped, so a pact-js pact using
    fromProviderState requested the consumer's example id, not the one the provider created."""
    states = ProviderStates("Orders")

    @provider_state("an order exists", registry=states)
    def create_order(params: dict[str, Any]) -> dict[str, Any]:
        ORDERS.clear()
        ORDERS[42] = {"id": 42, "item": params["item"], "quantity": 2, "status": "placed", "total": 19.0}
        return {"id": 42}

    refs = interaction_refs(Path(__file__).parent / "pacts_from_js" / "WebJS3-Orders.json")
    (pen,) = [ref for ref in refs if ref.description == "a request for the pen order"]
    result = verify_interaction(pen, callbacks, base_url=provider_urls["v1"], states=states)
    assert result["result"] is True


def test_request_headers_reach_the_provider(pacts: dict[str, Path], provider_urls: dict[str, str], callbacks: CallbackServer) -> None:
    ref = interaction(pacts["V1"], "a request for order 1")
    with pytest.raises(ContractError, match="expected 200 but was 401"):
        verify_interaction(ref, callbacks, base_url=provider_urls["secured"], states=STATES)
    verify_interaction(ref, callbacks, base_url=provider_urls["secured"], states=STATES, headers={"Authorization": f"Bearer {TOKEN}"})


TELEMETRY_PROBE = """
import json, logging, os, sys
logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format="%(message)s")
logging.getLogger("pact.ffi").setLevel(logging.DEBUG)
from pytest_ipc.contracts.callbacks import CallbackServer
from pytest_ipc.contracts.pactfile import interaction_refs
from pytest_ipc.contracts.verification import verify_interaction
from pytest_ipc.contracts import ProviderStates

(ref,) = [r for r in interaction_refs(__import__("pathlib").Path(sys.argv[1])) if "missing" in r.description]
callbacks = CallbackServer()
states = ProviderStates()
states.register("no orders exist", lambda: None)
verify_interaction(ref, callbacks, base_url=sys.argv[2], states=states)
callbacks.stop()
print("ENVIRONMENT", json.dumps("PACT_DO_NOT_TRACK" in os.environ))
"""


def test_telemetry_is_off_for_the_verifier_and_the_environment_is_left_alone(
    tmp_path: Path, pacts: dict[str, Path], provider_urls: dict[str, str]
) -> None:
    """The Pact core's only switch is the environment variable: set for the verifier's call only."""
    environment = {name: value for name, value in os.environ.items() if name.lower() != "pact_do_not_track"}
    probe = subprocess.run(
        [sys.executable, "-c", TELEMETRY_PROBE, str(pacts["V1"]), provider_urls["v1"]],
        capture_output=True, text=True, env=environment, timeout=120, check=True,
    )
    assert "'PACT_DO_NOT_TRACK' environment variable is set, will not send metrics" in probe.stdout
    assert "Sending event to GA" not in probe.stdout
    assert "ENVIRONMENT false" in probe.stdout
