"""Breaking changes between AsyncAPI versions (2.6 and 3.0), each rule saying which role it protects."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ipc import IncompatibleApi, assert_asyncapi_compatible
from pytest_ipc.__main__ import main
from pytest_ipc.specs import SpecError, asyncapi_changes

DOCUMENTS = Path(__file__).parent / "documents"
PLACED, COMMANDS = "channel orders.placed message OrderPlaced payload", "channel orders.commands message PlaceOrder payload"


def test_asyncapi_26_consumers_and_publishers_each_protected() -> None:
    changes = {
        (finding.location, finding.rule, finding.severity): finding.message
        for finding in asyncapi_changes(DOCUMENTS / "diff_orders_26_v1.yaml", DOCUMENTS / "diff_orders_26_v2_breaking.yaml")
    }
    assert changes == {
        ("channel orders.audit", "channel-removed", "error"): "channel removed; its publishers and consumers lose it",
        # the application sends OrderPlaced: its consumers are protected
        (f"{PLACED} $.order_id", "message-field-removed", "error"): "required field removed; old consumers that read it break",
        (f"{PLACED} $.lines[*].sku", "message-field-became-optional", "error"): (
            "no longer required; old consumers that read it may not find it"
        ),
        (f"{PLACED} $.total", "message-field-type-changed", "error"): (
            "type changed from number to string; old consumers that read it may fail"
        ),
        (f"{PLACED} $.status", "message-field-enum-value-added", "warning"): (
            "enum now allows 'cancelled'; strict consumers that check the enum may fail"
        ),
        # the application receives PlaceOrder: its publishers are protected
        (f"{COMMANDS} $.customer", "new-required-message-field", "error"): (
            "new required field; old publishers do not send it and are rejected"
        ),
        (f"{COMMANDS} $.priority", "message-field-enum-value-removed", "error"): (
            "enum no longer allows 'low'; old publishers that send it are rejected"
        ),
        (f"{COMMANDS} $.quantity", "message-field-max-decreased", "error"): (
            "maximum changed from none to 10; old publishers that send it are rejected"
        ),
    }


def test_asyncapi_30_operations_messages_and_nullability() -> None:
    changes = {
        (finding.location, finding.rule, finding.severity)
        for finding in asyncapi_changes(DOCUMENTS / "diff_orders_30_v1.yaml", DOCUMENTS / "diff_orders_30_v2_breaking.yaml")
    }
    assert changes == {
        ("channel orders.commands operation receiveCommands", "operation-removed", "error"),
        ("channel orders.placed message OrderPaid", "message-removed", "error"),
        (f"{COMMANDS} $.note", "message-field-became-not-nullable", "error"),
        (f"{PLACED} $.order_id", "message-field-became-optional", "error"),
        (f"{PLACED} $.order_id", "message-field-type-changed", "error"),
        (f"{PLACED} $.kind", "message-field-enum-value-added", "warning"),
    }


def test_the_assertion_fails_on_the_breaking_version_and_passes_the_compatible_one() -> None:
    with pytest.raises(IncompatibleApi) as caught:
        assert_asyncapi_compatible(DOCUMENTS / "diff_orders_30_v1.yaml", DOCUMENTS / "diff_orders_30_v2_breaking.yaml")
    text = str(caught.value)
    assert text.startswith(
        "diff_orders_30_v2_breaking.yaml (version 2.0.0) breaks publishers or consumers of diff_orders_30_v1.yaml "
        "(version 1.0.0): 5 error(s), 1 warning(s)"
    )
    assert (
        "  - channel orders.placed message OrderPaid: message removed; consumers waiting for it get nothing they "
        "understand [message-removed]" in text.splitlines()
    )
    assert assert_asyncapi_compatible(DOCUMENTS / "diff_orders_26_v1.yaml", DOCUMENTS / "diff_orders_26_v2_compatible.yaml") == []


def test_a_message_without_a_known_role_is_checked_for_both_sides() -> None:
    def document(payload: dict[str, object]) -> dict[str, object]:
        return {
            "asyncapi": "3.0.0",
            "info": {"title": "t", "version": "1"},
            "channels": {"c": {"address": "things", "messages": {"Thing": {"payload": payload}}}},
        }

    old = document({"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "enum": ["x", "y"]}}})
    new = document(
        {"type": "object", "required": ["b"], "properties": {"a": {"type": "string", "enum": ["x", "z"]}, "b": {"type": "integer"}}}
    )
    assert {(finding.rule, finding.severity) for finding in asyncapi_changes(old, new)} == {
        ("message-field-became-optional", "error"),
        ("new-required-message-field", "error"),
        ("message-field-enum-value-removed", "error"),
        ("message-field-enum-value-added", "warning"),
    }


def test_the_command_line_and_the_wrong_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asyncapi-diff", str(DOCUMENTS / "diff_orders_26_v1.yaml"), str(DOCUMENTS / "diff_orders_26_v2_breaking.yaml")]) == 1
    assert "[new-required-message-field]" in capsys.readouterr().out
    assert main(["asyncapi-diff", str(DOCUMENTS / "diff_orders_26_v1.yaml"), str(DOCUMENTS / "diff_orders_26_v2_compatible.yaml")]) == 0
    assert main(["asyncapi-diff", str(DOCUMENTS / "diff_orders_26_v1.yaml"), str(DOCUMENTS / "diff_petstore_30_v1.yaml")]) == 2
    assert "diff_petstore_30_v1.yaml is an openapi document; an AsyncAPI document is needed here" in capsys.readouterr().err
    with pytest.raises(SpecError, match="an AsyncAPI document is needed here"):
        asyncapi_changes(DOCUMENTS / "diff_petstore_30_v1.yaml", DOCUMENTS / "diff_orders_26_v1.yaml")


def test_content_type_and_headers_of_a_sent_message() -> None:
    def document(content_type: str, header: dict[str, object]) -> dict[str, object]:
        message = {
            "name": "Ping",
            "contentType": content_type,
            "headers": {"type": "object", "required": ["trace"], "properties": {"trace": header}},
            "payload": {"type": "object"},
        }
        return {
            "asyncapi": "2.6.0",
            "info": {"title": "t", "version": "1"},
            "channels": {"pings": {"subscribe": {"message": message}}},
        }

    changes = asyncapi_changes(document("application/json", {"type": "string"}), document("application/avro", {"type": "integer"}))
    assert [finding.describe() for finding in changes] == [
        "channel pings message Ping: contentType changed from application/json to application/avro; consumers waiting for it get "
        "nothing they understand [message-content-type-changed]",
        "channel pings message Ping headers $.trace: type changed from string to integer; old consumers that read it may fail "
        "[message-header-type-changed]",
    ]
