"""Message pacts cross-checked against their provider's AsyncAPI document: the pact pact-js wrote (V3),
and V4 pacts with JSON, binary (Avro) and synchronous message interactions."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc.contracts import ContractError
from pytest_ipc.contracts.avro import write_record
from pytest_ipc.contracts.pact_asyncapi import assert_pact_matches_asyncapi

PACTS_FROM_JS = Path(__file__).parents[1] / "contracts" / "pacts_from_js"
STREETLIGHTS = Path(__file__).parent / "documents" / "streetlights_3_0.yaml"
POWER = "smartylighting/streetlights/1/0/event/sl-1/power/measured"


def order_events(status: dict[str, Any], order_id: str = "integer") -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Order events", "version": "1"},
        "channels": {
            "orderPlaced": {
                "address": "orders.placed",
                "messages": {
                    "orderPlaced": {
                        "payload": {
                            "type": "object",
                            "required": ["order_id", "status"],
                            "properties": {"order_id": {"type": order_id}, "status": status},
                        }
                    }
                },
            }
        },
    }


def test_the_pact_js_message_pact_conforms_to_its_document() -> None:
    assert assert_pact_matches_asyncapi(PACTS_FROM_JS / "MailerJS-OrderEvents.json", order_events({"enum": ["placed", "paid"]})) == 1


def test_a_message_pact_the_document_does_not_allow_fails() -> None:
    with pytest.raises(ContractError) as failure:
        assert_pact_matches_asyncapi(PACTS_FROM_JS / "MailerJS-OrderEvents.json", order_events({"enum": ["paid"]}, order_id="string"))
    assert str(failure.value).splitlines() == [
        "MailerJS -> OrderEvents: message interactions that Order events does not allow:",
        "  - 'an order placed event' (given an order was placed) on channel orderPlaced (orders.placed): "
        "$.order_id: 7 is not of type 'string' (schema #/channels/orderPlaced/messages/orderPlaced/payload/properties/order_id/type)",
        "  - 'an order placed event' (given an order was placed) on channel orderPlaced (orders.placed): "
        "$.status: 'placed' is not one of ['paid'] (schema #/channels/orderPlaced/messages/orderPlaced/payload/properties/status/enum)",
    ]


def test_a_channel_the_document_does_not_declare_fails() -> None:
    document = order_events({"type": "string"})
    document["channels"]["orderPlaced"]["address"] = "orders.created"
    with pytest.raises(ContractError, match=r"on channel 'orders\.placed', which Order events does not declare; its channels: orderPlaced"):
        assert_pact_matches_asyncapi(PACTS_FROM_JS / "MailerJS-OrderEvents.json", document)


def v4_pact(*interactions: dict[str, Any]) -> dict[str, Any]:
    return {
        "consumer": {"name": "Dashboard"},
        "provider": {"name": "Streetlights"},
        "interactions": list(interactions),
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


def message(description: str, content: Any, content_type: str, topic: str | None, encoded: str | bool = False) -> dict[str, Any]:
    return {
        "type": "Asynchronous/Messages",
        "description": description,
        "contents": {"content": content, "contentType": content_type, "encoded": encoded},
        "metadata": {"topic": topic} if topic else {},
    }


POWER_SCHEMA = {
    "type": "record",
    "name": "PowerMeasured",
    "namespace": "smartylighting",
    "fields": [
        {"name": "watts", "type": "double"},
        {"name": "sentAt", "type": "long"},
        {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["ECO", "FULL"]}},
    ],
}


def test_v4_json_binary_and_synchronous_messages() -> None:
    power = base64.b64encode(write_record({"watts": 4.5, "sentAt": 1, "mode": "FULL"}, POWER_SCHEMA)).decode()
    pact = v4_pact(
        message("a measurement", {"lumens": 3, "sentAt": "2026-12-03T17:00:00Z"}, "application/json", "lightingMeasured"),
        message("a power reading", power, "application/octet-stream", POWER, "base64"),
        {
            "type": "Synchronous/Messages",
            "description": "turn on",
            "request": {"contents": {"content": {"command": "on"}, "contentType": "application/json", "encoded": False},
                        "metadata": {"channel": "smartylighting/streetlights/1/0/action/sl-2/turn"}},
            "response": [],
        },
    )
    assert assert_pact_matches_asyncapi(pact, STREETLIGHTS) == 3


def test_v4_messages_that_break_the_document_each_say_why() -> None:
    power = base64.b64encode(b"\x00\x01").decode()
    pact = v4_pact(
        message("a measurement", {"lumens": "bright"}, "application/json", "lightingMeasured"),
        message("a power reading", power, "application/octet-stream", "powerMeasured", "base64"),
        message("a dim command as JSON", {"percentage": 3}, "application/json", "lightsDim"),
        message("a blink command", {"command": "blink"}, "application/json", "lightTurn"),
        message("no channel", {}, "application/json", None),
    )
    with pytest.raises(ContractError) as failure:
        assert_pact_matches_asyncapi(pact, STREETLIGHTS)
    lines = str(failure.value).splitlines()[1:]
    assert lines == [
        "  - 'a blink command' on channel lightTurn (smartylighting/streetlights/1/0/action/{streetlightId}/turn): as turnOff: "
        "$.command: 'off' was expected (schema #/components/messages/turnOff/payload/properties/command/const)",
        "  - 'a blink command' on channel lightTurn (smartylighting/streetlights/1/0/action/{streetlightId}/turn): as turnOn: "
        "$.command: 'on' was expected (schema #/components/messages/turnOn/payload/properties/command/const)",
        "  - 'a dim command as JSON' on channel lightsDim (smartylighting/streetlights/1/0/action/{streetlightId}/dim): "
        "content type application/json is not the message's application/xml",
        "  - 'a measurement' on channel lightingMeasured (smartylighting/streetlights/1/0/event/{streetlightId}/lighting/measured): "
        "$.lumens: 'bright' is not of type 'integer' (schema #/components/messages/lightMeasured/payload/properties/lumens/type)",
        "  - 'a measurement' on channel lightingMeasured (smartylighting/streetlights/1/0/event/{streetlightId}/lighting/measured): "
        "$: 'sentAt' is a required property (schema #/components/messages/lightMeasured/payload/required)",
        "  - 'a power reading' on channel powerMeasured (smartylighting/streetlights/1/0/event/{streetlightId}/power/measured): "
        "$: payload cannot be read as Avro smartylighting.PowerMeasured: the 2 byte(s) end before one smartylighting.PowerMeasured does "
        "(schema #/components/messages/powerMeasured/payload/schema)",
        "  - 'no channel' names no channel: its metadata has none of channel, topic, destination, subject, queue, routing_key, "
        "routingKey, address",
    ]


def test_a_pact_without_messages_checks_nothing_and_fails() -> None:
    http_only = v4_pact({"type": "Synchronous/HTTP", "description": "a request", "request": {"method": "GET", "path": "/"}})
    with pytest.raises(ContractError, match=r"Dashboard -> Streetlights: the pact has no message interactions to check against"):
        assert_pact_matches_asyncapi(http_only, STREETLIGHTS)
