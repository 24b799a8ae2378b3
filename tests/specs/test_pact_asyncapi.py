"""Message pacts cross-checked against their provider's AsyncAPI document: the pact pact-js wrote (V3),
and V4 pacts with JSON, binary (Avro) and synchronous message interactions (`specs.pact_check`)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc.contracts.avro import write_record
from pytest_ipc.specs import IncompatibleApi, SpecError, assert_pact_matches_asyncapi

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
    assert assert_pact_matches_asyncapi(PACTS_FROM_JS / "MailerJS-OrderEvents.json", order_events({"enum": ["placed", "paid"]})) == []


def test_a_message_pact_the_document_does_not_allow_fails() -> None:
    with pytest.raises(IncompatibleApi) as failure:
        assert_pact_matches_asyncapi(PACTS_FROM_JS / "MailerJS-OrderEvents.json", order_events({"enum": ["paid"]}, order_id="string"))
    # $.status is under a pact-js type matcher: any string may come, so the enum is no mismatch.
    assert str(failure.value).splitlines()[:3] == [
        "the pact MailerJS -> OrderEvents expects what Order events (version 1) does not declare: 1 error(s), 0 warning(s)",
        "errors (breaking):",
        "  - 'an order placed event' (message on orders.placed) channel orders.placed message orderPlaced payload $.order_id: "
        "7 is not of type 'string' (schema #/channels/orderPlaced/messages/orderPlaced/payload/properties/order_id/type) "
        "[pact-message-invalid]",
    ]


def test_a_channel_the_document_does_not_declare_fails() -> None:
    document = order_events({"type": "string"})
    document["channels"]["orderPlaced"]["address"] = "orders.created"
    declared = r"no channel orders\.placed; channels: orderPlaced \(orders\.created\) \[pact-channel-not-declared\]"
    with pytest.raises(IncompatibleApi, match=declared):
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
    # The document describes the streetlights from their side: a consumer's expectations there only warn.
    warnings = assert_pact_matches_asyncapi(pact, STREETLIGHTS)
    assert [(finding.location, finding.rule) for finding in warnings] == [
        ("'a measurement' (message on lightingMeasured)", "pact-message-not-sent"),
        (f"'a power reading' (message on {POWER})", "pact-message-not-sent"),
        ("'turn on' (request message on smartylighting/streetlights/1/0/action/sl-2/turn)", "pact-message-not-received"),
    ]


def test_v4_messages_that_break_the_document_each_say_why() -> None:
    power = base64.b64encode(b"\x00\x01").decode()
    pact = v4_pact(
        message("a measurement", {"lumens": "bright"}, "application/json", "lightingMeasured"),
        message("a power reading", power, "application/octet-stream", "powerMeasured", "base64"),
        message("a dim command as JSON", {"percentage": 3}, "application/json", "lightsDim"),
        message("a blink command", {"command": "blink"}, "application/json", "lightTurn"),
        message("no channel", {}, "application/json", None),
    )
    with pytest.raises(IncompatibleApi) as failure:
        assert_pact_matches_asyncapi(pact, STREETLIGHTS)
    turn, dim = (f"smartylighting/streetlights/1/0/action/{{streetlightId}}/{action}" for action in ("turn", "dim"))
    measured, power = (f"smartylighting/streetlights/1/0/event/{{streetlightId}}/{event}/measured" for event in ("lighting", "power"))
    assert [finding.describe() for finding in failure.value.errors] == [
        f"'a blink command' (message on lightTurn) channel {turn} message turnOff payload $.command: 'off' was expected "
        "(schema #/components/messages/turnOff/payload/properties/command/const) [pact-message-invalid]",
        f"'a blink command' (message on lightTurn) channel {turn} message turnOn payload $.command: 'on' was expected "
        "(schema #/components/schemas/turnPayload/properties/command/const) [pact-message-invalid]",
        f"'a dim command as JSON' (message on lightsDim) channel {dim} message dimLight: "
        "content type application/json is not the message's application/xml [pact-message-content-type-not-declared]",
        f"'a measurement' (message on lightingMeasured) channel {measured} message lightMeasured payload $.lumens: "
        "'bright' is not of type 'integer' (schema #/components/schemas/lightMeasuredPayload/properties/lumens/type) "
        "[pact-message-invalid]",
        f"'a power reading' (message on powerMeasured) channel {power} message powerMeasured payload $: "
        "payload cannot be read as Avro smartylighting.PowerMeasured: the 2 byte(s) end before one smartylighting.PowerMeasured does "
        "(schema #/components/messages/powerMeasured/payload/schema) [pact-message-invalid]",
    ]
    # A field the provider always sends but the example leaves out warns; a message naming no channel
    # is checked against every message the provider sends.
    assert [(finding.location, finding.rule) for finding in failure.value.warnings if "required" in finding.rule] == [
        ("'a measurement' (message on lightingMeasured) channel " + measured + " message lightMeasured payload $",
         "pact-message-required-field-missing"),
        ("'no channel' (message) channel " + turn + " message turnOn payload $", "pact-message-required-field-missing"),
    ]


def test_a_pact_without_messages_checks_nothing_and_fails() -> None:
    http_only = v4_pact({"type": "Synchronous/HTTP", "description": "a request", "request": {"method": "GET", "path": "/"}})
    with pytest.raises(SpecError, match=r"the pact Dashboard -> Streetlights holds no interaction an asyncapi document describes"):
        assert_pact_matches_asyncapi(http_only, STREETLIGHTS)


def test_channel_of_names_the_channel_where_the_metadata_uses_other_keys() -> None:
    def kafka_topic(interaction: dict[str, Any]) -> str | None:
        return str(interaction["metadata"]["kafka_topic"])

    measured = message("a measurement", {"lumens": 3, "sentAt": "2026-12-03T17:00:00Z"}, "application/json", None)
    measured["metadata"] = {"kafka_topic": "lightingMeasured"}
    warnings = assert_pact_matches_asyncapi(v4_pact(measured), STREETLIGHTS, channel_of=kafka_topic)
    assert [finding.location for finding in warnings] == ["'a measurement' (message on lightingMeasured)"]
    measured["contents"]["content"] = {"lumens": "bright", "sentAt": "2026-12-03T17:00:00Z"}
    with pytest.raises(IncompatibleApi, match=r"message lightMeasured payload \$\.lumens: 'bright' is not of type 'integer'"):
        assert_pact_matches_asyncapi(v4_pact(measured), STREETLIGHTS, channel_of=kafka_topic)
