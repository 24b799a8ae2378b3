"""API evolution checks in process: pact-vs-pact compatibility, Avro modes, response evolution, maturity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pact import match

from pytest_ipc.contracts import (
    ContractError,
    ManagedPact,
    ResponseEvolver,
    assert_pacts_compatible,
    assess_maturity,
    breaking_changes,
    check_avro_compatibility,
)
from tests.contracts.contract_pacts import write_events_pact, write_orders_pact


def order_pact(directory: Path, consumer: str, response: dict[str, Any], status: int = 200) -> Path:
    """A one-interaction pact for GET /orders/1, recorded through a real mock server."""
    pact = ManagedPact(consumer, "Orders")
    pact.upon_receiving("a request for order 1").with_request("GET", "/orders/1").will_respond_with(status).with_body(
        response
    )
    with pact.serve() as server:
        httpx.get(f"{server.url}/orders/1")
    pact.write_file(directory, overwrite=True)
    return directory / f"{consumer}-Orders.json"


# -- pact vs pact ------------------------------------------------------------------------------------
def test_new_required_request_field_is_breaking(tmp_path: Path) -> None:
    v1, v2 = write_orders_pact(tmp_path, "V1"), write_orders_pact(tmp_path, "V2")
    with pytest.raises(ContractError) as caught:
        assert_pacts_compatible(v1, v2)
    assert str(caught.value).splitlines() == [
        "OrdersWebV2-Orders.json breaks OrdersWebV1-Orders.json: 1 breaking change(s):",
        "  - 'an order is placed': new required request field $.gift_wrap (boolean)",
    ]


def test_removed_response_field_and_changed_type_are_breaking(tmp_path: Path) -> None:
    old = order_pact(tmp_path, "Old", {"id": match.int(1), "total": match.number(9.5), "status": "placed"})
    new = order_pact(tmp_path, "New", {"id": match.str("1"), "total": match.number(9.5)})
    assert breaking_changes(old, new) == [
        "'a request for order 1': response field $.id changed type from number to string",
        "'a request for order 1': response field $.status removed",
    ]


def test_added_response_field_is_compatible_but_a_removed_interaction_is_not(tmp_path: Path) -> None:
    old = order_pact(tmp_path, "Old", {"id": 1})
    new = order_pact(tmp_path, "New", {"id": 1, "currency": "EUR", "_links": {"self": {"href": "/orders/1"}}})
    assert_pacts_compatible(old, new)
    events = write_events_pact(tmp_path)
    assert breaking_changes(new, events) == ["'a request for order 1': interaction removed"]


def test_message_contents_are_compared_like_a_response(tmp_path: Path) -> None:
    old = write_events_pact(tmp_path)
    document = json.loads(old.read_text())
    document["interactions"][0]["contents"]["content"] = {"order_id": "7"}
    new = tmp_path / "renamed.json"
    new.write_text(json.dumps(document))
    assert breaking_changes(old, new) == [
        "'an order placed event': message field $.order_id changed type from number to string",
        "'an order placed event': message field $.status removed",
    ]


# -- Avro ----------------------------------------------------------------------------------------------
ORDER_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PLACED", "PAID"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
WITH_DEFAULTED_FIELD = {
    **ORDER_V1,
    "fields": [*ORDER_V1["fields"], {"name": "currency", "type": "string", "default": "EUR"}],
}
WITH_REQUIRED_FIELD = {**ORDER_V1, "fields": [*ORDER_V1["fields"], {"name": "currency", "type": "string"}]}
FEWER_SYMBOLS = {
    **ORDER_V1,
    "fields": [
        ORDER_V1["fields"][0],
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PLACED"]}},
    ],
}


@pytest.mark.parametrize("mode", ["BACKWARD", "FORWARD", "FULL"])
def test_field_with_a_default_is_compatible_in_every_mode(mode: str) -> None:
    report = check_avro_compatibility(ORDER_V1, WITH_DEFAULTED_FIELD, mode)
    assert report.compatible and report.records_checked == (24 if mode == "FULL" else 12)


def test_new_field_without_default_breaks_backward_but_not_forward() -> None:
    check_avro_compatibility(ORDER_V1, WITH_REQUIRED_FIELD, "FORWARD")
    with pytest.raises(ContractError, match="not BACKWARD compatible") as caught:
        check_avro_compatibility(ORDER_V1, WITH_REQUIRED_FIELD, "BACKWARD")
    (failure,) = caught.value.mismatches
    assert failure.startswith(
        "ROUND_TRIP at shop.Order: data written with the old schema cannot be read with the new schema: record 0"
    )
    assert "No default value for field currency" in failure


def test_removed_enum_symbol_is_caught_by_actually_reading_records() -> None:
    with pytest.raises(ContractError, match="PAID not found in reader symbol list"):
        check_avro_compatibility(ORDER_V1, FEWER_SYMBOLS, "FULL")


def test_unknown_mode_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'SIDEWAYS'; choose one of BACKWARD, FORWARD, FULL"):
        check_avro_compatibility(ORDER_V1, ORDER_V1, "SIDEWAYS")


# -- response evolution ----------------------------------------------------------------------------------
def test_evolution_adds_fields_at_every_level_drops_optional_ones_and_is_seeded() -> None:
    document = {"id": 1, "note": "fragile", "customer": {"name": "Ada", "note": "vip"}, "lines": [{"sku": "a"}]}
    evolved = ResponseEvolver(seed=3, drop_optional=["customer.note"])(document)
    assert isinstance(evolved, dict)
    assert evolved["note"] == "fragile" and "note" not in evolved["customer"]
    assert len(evolved) == 5 and len(evolved["customer"]) == 2 and len(evolved["lines"][0]) == 2
    assert all(key.startswith("x_") for key in evolved.keys() - document.keys())
    assert evolved == ResponseEvolver(seed=3, drop_optional=["customer.note"])(document)
    assert evolved != ResponseEvolver(seed=4, drop_optional=["customer.note"])(document)


def test_evolution_reorders_keys() -> None:
    document = {f"field_{number}": number for number in range(8)}
    evolved = ResponseEvolver(seed=1, add_fields=False)(document)
    assert evolved == document and list(evolved) != list(document)  # type: ignore[call-overload]


# -- REST maturity -----------------------------------------------------------------------------------------
def test_maturity_levels_from_contracts(tmp_path: Path) -> None:
    rpc = ManagedPact("Web", "LegacyRpc")
    for action in ("getOrder", "placeOrder"):
        rpc.upon_receiving(action).with_request("POST", "/rpc").with_body(
            {"action": action}, "application/json"
        ).will_respond_with(200)
    with rpc.serve() as server:
        for action in ("getOrder", "placeOrder"):
            httpx.post(f"{server.url}/rpc", json={"action": action})
    rpc.write_file(tmp_path, overwrite=True)
    resources = order_pact(tmp_path, "Reader", {"id": 1})
    resources_document = json.loads(resources.read_text())
    resources_document["provider"]["name"] = "Catalogue"
    resources_document["interactions"].append({**resources_document["interactions"][0], "description": "b"})
    resources_document["interactions"][1]["request"] = {"method": "GET", "path": "/customers/7"}
    resources.write_text(json.dumps(resources_document))
    write_orders_pact(tmp_path, "V1")
    write_events_pact(tmp_path)

    reports = {report.provider: report for report in assess_maturity(sorted(tmp_path.glob("*.json")))}

    assert {name: report.level for name, report in reports.items()} == {
        "Catalogue": 1,
        "LegacyRpc": 0,
        "OrderEvents": None,
        "Orders": 3,
    }
    assert reports["Orders"].resources == {"/orders", "/orders/{id}", "/orders/{id}.xml"}
    assert reports["LegacyRpc"].line().startswith("LegacyRpc: level 0 (plain RPC) - 1 resource(s): /rpc")
