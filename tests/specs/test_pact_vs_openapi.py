"""Bi-directional contracts: pacts (pact-js V2/V3/V4 and our own) against the provider's OpenAPI and AsyncAPI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc import IncompatibleApi, assert_pact_matches_openapi
from pytest_ipc.__main__ import main
from pytest_ipc.contracts import NotAPact
from pytest_ipc.specs import SpecError, assert_pact_matches_asyncapi, pact_mismatches

HERE = Path(__file__).parent
DOCUMENTS, FROM_JS = HERE / "documents", HERE.parent / "contracts" / "pacts_from_js"
ORDERS, ORDERS_NARROW = DOCUMENTS / "pact_orders_openapi.yaml", DOCUMENTS / "pact_orders_openapi_narrow.yaml"
EVENTS, EVENTS_NARROW = DOCUMENTS / "pact_order_events_asyncapi.yaml", DOCUMENTS / "pact_order_events_asyncapi_narrow.yaml"
OWN = HERE / "pacts" / "WebPy-Orders.json"
TOTAL = "19.5 is not of type 'string'"


@pytest.mark.parametrize("pact", ["WebJS2-Orders.json", "WebJS3-Orders.json", "WebJS4-Orders.json"])
def test_pact_js_pacts_fit_the_providers_document(pact: str) -> None:
    warnings = assert_pact_matches_openapi(FROM_JS / pact, ORDERS)
    if pact == "WebJS4-Orders.json":  # a pending interaction (a field to come) and a message warn, never fail
        assert [(finding.rule, finding.location) for finding in warnings] == [
            (
                "pact-response-body-field-not-declared",
                "'a request for order 1 with its currency' (GET /orders/1) response 200 body $.currency",
            ),
            ("pact-interaction-not-checked", "'an order placed event'"),
        ]
        assert warnings[0].message.endswith("(pending interaction)")
    else:
        assert warnings == []


def test_pact_js_pacts_against_a_document_that_does_not_fit_them() -> None:
    with pytest.raises(IncompatibleApi) as caught:
        assert_pact_matches_openapi(FROM_JS / "WebJS3-Orders.json", ORDERS_NARROW)
    lines = str(caught.value).splitlines()
    assert (
        lines[0] == "the pact WebJS3 -> Orders expects what pact_orders_openapi_narrow.yaml (version 0.9.0) does not declare: "
        "7 error(s), 0 warning(s)"
    )
    assert {(finding.location, finding.rule) for finding in caught.value.errors} == {
        ("'a request for a missing order' (GET /orders/999) response 404", "pact-response-status-not-declared"),
        ("'a request for the book order' (GET /orders/2) response 200 body $._links", "pact-response-body-field-not-declared"),
        ("'a request for the book order' (GET /orders/2) response 200 body $.total", "pact-response-body-invalid"),
        ("'a request for the pen order' (GET /orders/1) response 200 body $._links", "pact-response-body-field-not-declared"),
        ("'a request for the pen order' (GET /orders/1) response 200 body $.total", "pact-response-body-invalid"),
        ("'an order is placed' (POST /orders) request body $.quantity", "pact-request-body-invalid"),
        ("'an order is placed' (POST /orders) response 201 body $.total", "pact-response-body-invalid"),
    }
    assert (
        "  - 'a request for a missing order' (GET /orders/999) response 404: status 404 is not declared (declared: 200) "
        "[pact-response-status-not-declared]" in lines
    )
    assert any(line.startswith(f"  - 'an order is placed' (POST /orders) response 201 body $.total: {TOTAL} (schema #/") for line in lines)
    assert (
        "  - 'a request for the pen order' (GET /orders/1) response 200 body $._links: the consumer relies on a field the "
        "schema does not declare; the provider never promised it [pact-response-body-field-not-declared]" in lines
    )
    v2 = {(finding.location, finding.rule) for finding in pact_mismatches(FROM_JS / "WebJS2-Orders.json", ORDERS_NARROW)}
    assert v2 == {("'a request for order 1' (GET /orders/1) response 200 body $.total", "pact-response-body-invalid")}


def test_message_pacts_against_asyncapi() -> None:
    assert assert_pact_matches_asyncapi(FROM_JS / "MailerJS-OrderEvents.json", EVENTS) == []
    assert {finding.rule for finding in assert_pact_matches_asyncapi(FROM_JS / "WebJS4-Orders.json", EVENTS)} == {
        "pact-interaction-not-checked"
    }
    with pytest.raises(IncompatibleApi) as caught:
        assert_pact_matches_asyncapi(FROM_JS / "WebJS4-Orders.json", EVENTS_NARROW)
    where = "'an order placed event' (message on orders.placed) channel orders.placed message OrderPlaced payload"
    assert {(finding.location, finding.rule) for finding in caught.value.errors} == {
        (f"{where} $.lines", "pact-message-field-not-declared"),
        (f"{where} $.order_id", "pact-message-invalid"),
    }
    assert (
        f"  - {where} $.order_id: 7 is not of type 'string' "
        "(schema #/channels/placed/messages/OrderPlaced/payload/properties/order_id/type) [pact-message-invalid]"
        in str(caught.value).splitlines()
    )


def message_pact(metadata: dict[str, str], contents: Any) -> dict[str, Any]:
    return {
        "consumer": {"name": "Mailer"},
        "provider": {"name": "OrderEvents"},
        "messages": [{"description": "an event", "contents": contents, "metadata": metadata}],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }


@pytest.mark.parametrize(
    ("metadata", "contents", "expected"),
    [
        (
            {"topic": "orders.shipped"},
            {"order_id": 1},
            ("pact-channel-not-declared", "no channel orders.shipped; channels: orders.placed, orders.commands"),
        ),
        (
            {"routing_key": "orders.commands"},
            {"item": "pen"},
            ("pact-message-not-sent", "the provider sends no message on orders.commands (it only receives there)"),
        ),
        (
            {},
            {"order_id": 1, "status": "lost"},
            (
                "pact-message-invalid",
                "'lost' is not one of ['placed', 'paid'] "
                "(schema #/channels/orders.placed/subscribe/message/payload/properties/status/enum)",
            ),
        ),
        ({}, {"order_id": 1, "status": "paid"}, None),
    ],
    ids=["unknown-channel", "received-not-sent", "value-no-matcher", "any-channel-fits"],
)
def test_own_message_pacts(metadata: dict[str, str], contents: Any, expected: tuple[str, str] | None) -> None:
    found = [(finding.rule, finding.message) for finding in pact_mismatches(message_pact(metadata, contents), EVENTS)]
    assert found == ([expected] if expected else [])


def test_our_own_v3_pact_with_query_headers_and_matchers_fits() -> None:
    assert assert_pact_matches_openapi(OWN, ORDERS) == []


def with_request(change: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    pact: dict[str, Any] = json.loads(OWN.read_text())
    interaction = copy.deepcopy(pact["interactions"][0])
    interaction["request"].update(change)
    if response is not None:
        interaction["response"] = response
    pact["interactions"] = [interaction]
    return pact


@pytest.mark.parametrize(
    ("change", "response", "expected"),
    [
        ({"path": "/customers/1"}, None, ("pact-path-not-declared", "", "no path of the document matches; the provider may answer 404")),
        ({"method": "DELETE"}, None, ("pact-method-not-declared", "", "/orders/1 declares only GET")),
        ({"path": "/orders/0"}, None, ("pact-request-parameter-invalid", " path parameter order_id", "0: 0 is less than the minimum of 1")),
        (
            {"query": "expand=everything"},
            None,
            ("pact-request-parameter-invalid", " query parameter expand", "'everything': 'everything' is not one of ['lines', 'customer']"),
        ),
        (
            {"headers": {"X-Tenant": "ACME"}},
            None,
            ("pact-request-parameter-invalid", " header parameter X-Tenant", "'ACME': 'ACME' does not match '^[a-z]+$'"),
        ),
        (
            {"query": {"expand": ["lines"], "debug": ["1"]}},
            None,
            (
                "pact-request-parameter-not-declared",
                " query parameter debug",
                "the consumer sends a parameter the document does not declare",
            ),
        ),
        ({}, {"status": 500}, ("pact-response-status-not-declared", " response 500", "status 500 is not declared (declared: 200, 4XX)")),
        (
            {},
            {"status": 200, "body": {"id": 1, "status": "lost"}},
            (
                "pact-response-body-invalid",
                " response 200 body $.status",
                "'lost' is not one of ['placed', 'paid', 'shipped'] (schema #/components/schemas/Order/properties/status/enum)",
            ),
        ),
        (
            {},
            {"status": 200, "body": {"id": "1"}, "matchingRules": {"body": {"$.id": {"matchers": [{"match": "type"}]}}}},
            (
                "pact-response-body-invalid",
                " response 200 body $.id",
                "'1' is not of type 'integer' (schema #/components/schemas/Order/properties/id/type)",
            ),
        ),
        (
            {},
            {"status": 200, "body": {"id": 1, "_links": {"next": {"href": "/orders/2"}}}},
            (
                "pact-response-body-field-not-declared",
                " response 200 body $._links.next",
                "the consumer relies on a field the schema does not declare; the provider never promised it",
            ),
        ),
        (
            {},
            {"status": 200, "headers": {"Content-Type": "text/csv"}, "body": "id\n1"},
            ("pact-response-media-type-not-declared", " response 200 body", "text/csv is not declared (declared: application/json)"),
        ),
        (
            {"path": "/orders", "method": "POST", "query": None, "headers": {"Content-Type": "text/plain"}, "body": "pen"},
            {"status": 201},
            ("pact-request-media-type-not-declared", " request body", "text/plain is not accepted (accepted: application/json)"),
        ),
        (
            {"path": "/orders", "method": "POST", "query": None, "headers": {}, "body": None},
            {"status": 201},
            ("pact-request-body-missing", " request body", "the document requires a request body; the consumer sends none"),
        ),
        (
            {"path": "/orders", "method": "POST", "query": None, "headers": {}, "body": {"item": "pen"}},
            {"status": 201},
            (
                "pact-request-body-invalid",
                " request body $",
                "'quantity' is a required property (schema #/components/schemas/NewOrder/required)",
            ),
        ),
    ],
    ids=[
        "path",
        "method",
        "path-parameter",
        "query-value",
        "header-value",
        "query-undeclared",
        "status",
        "enum-without-matcher",
        "type-under-type-matcher",
        "undeclared-nested-field",
        "response-media-type",
        "request-media-type",
        "request-body-missing",
        "request-body-invalid",
    ],
)
def test_each_mismatch_of_an_http_interaction(
    change: dict[str, Any], response: dict[str, Any] | None, expected: tuple[str, str, str]
) -> None:
    pact = with_request(change, response)
    request = pact["interactions"][0]["request"]
    rule, where, message = expected
    found = [(finding.rule, finding.location, finding.message) for finding in pact_mismatches(pact, ORDERS)]
    assert found == [(rule, f"'a request for order 1 with its lines' ({request['method']} {request['path']}){where}", message)]


def test_a_value_under_a_type_matcher_may_be_any_value_of_its_type() -> None:
    body = {"id": 1, "status": "lost"}
    strict = with_request({}, {"status": 200, "body": body})
    relaxed = with_request({}, {"status": 200, "body": body, "matchingRules": {"$.body.status": {"match": "type"}}})  # V2 layout
    assert [finding.rule for finding in pact_mismatches(strict, ORDERS)] == ["pact-response-body-invalid"]
    assert pact_mismatches(relaxed, ORDERS) == []


def test_usage_errors() -> None:
    with pytest.raises(SpecError, match=r"the pact MailerJS -> OrderEvents holds no interaction an openapi document describes"):
        pact_mismatches(FROM_JS / "MailerJS-OrderEvents.json", ORDERS)
    with pytest.raises(SpecError, match=r"pact_order_events_asyncapi.yaml is an asyncapi document; this check needs an openapi document"):
        assert_pact_matches_openapi(OWN, EVENTS)
    with pytest.raises(NotAPact, match="no consumer and provider names"):
        pact_mismatches({"interactions": []}, ORDERS)


def test_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    """In-process (the subprocess form of the same dispatcher is tested with openapi-diff)."""
    assert main(["pact-check", str(FROM_JS / "WebJS3-Orders.json"), str(ORDERS)]) == 0
    assert main(["pact-check", str(FROM_JS / "WebJS3-Orders.json"), str(ORDERS_NARROW)]) == 1
    assert "WebJS3-Orders.json against pact_orders_openapi_narrow.yaml (version 0.9.0): 7 error(s), 0 warning(s)" in capsys.readouterr().out
    assert main(["pact-check", str(FROM_JS / "MailerJS-OrderEvents.json"), str(ORDERS)]) == 2
    assert "pact-check: the pact MailerJS -> OrderEvents holds no interaction" in capsys.readouterr().err
