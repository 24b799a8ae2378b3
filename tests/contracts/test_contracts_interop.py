"""Pact files travel between implementations: plain pact-python's Verifier reads what the plugin
writes, and the plugin verifies what pact-js wrote (V2, V3 with matchers, generators and
fromProviderState, V3 messages, V4 with comments and pending), plus two variants of those files
that pact-js cannot write: V4 interactions told apart only by their `key` (pact-jvm and pact-rust
consumers set keys) and V3 interactions told apart only by a state parameter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier

from tests.contracts.contract_apps import ORDERS
from tests.contracts.inner_session import QUIET_SESSION

FROM_JS = Path(__file__).parent / "pacts_from_js"
APPS = (Path(__file__).parent / "contract_apps.py").read_text()

PLUGIN_CONSUMERS = """
import json

import httpx
import pytest
from pact import match


@pytest.mark.ipc_pact("Web", "Orders")
def test_reads_an_order(ipc_pact):
    (
        ipc_pact.upon_receiving("a request for order 1")
        .given("an order exists", id=1)
        .with_request("GET", "/orders/1")
        .will_respond_with(200)
        .with_body({"id": match.int(1), "status": match.str("placed"), "total": match.number(19.0)})
    )
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/1").json()["id"] == 1


@pytest.mark.ipc_pact("Web", "Orders")
def test_reports_a_missing_order(ipc_pact):
    ipc_pact.upon_receiving("a request for a missing order").given("no orders exist").with_request(
        "GET", "/orders/999"
    ).will_respond_with(404)
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/999").status_code == 404


@pytest.mark.parametrize("event", ["placed", "paid"])
@pytest.mark.ipc_pact("Mailer", "OrderEvents")
def test_order_events(ipc_pact, event):
    ipc_pact.with_specification("V3")
    (
        ipc_pact.upon_receiving(f"an order {event} event", "Async")
        .with_body({"order_id": match.int(7), "status": event}, "application/json")
        .with_metadata({"routing_key": f"orders.{event}"})
    )
    received = []
    ipc_pact.verify(lambda body, metadata: received.append(json.loads(body)), "Async")
    assert received == [{"order_id": 7, "status": event}]
"""


def test_plain_pact_python_verifies_the_pacts_the_plugin_wrote(
    pytester: pytest.Pytester, provider_urls: dict[str, str]
) -> None:
    """False pass: a merged V3 message pact kept its messages under `interactions`; pact-python's own
    Verifier rejected the file (and the Pact core replayed the messages as HTTP requests)."""
    pytester.makepyfile(test_consumers=PLUGIN_CONSUMERS)
    pytester.runpytest_inprocess(*QUIET_SESSION).assert_outcomes(passed=4)
    pact_dir = pytester.path / "pacts"
    assert sorted(path.name for path in pact_dir.iterdir()) == ["Mailer-OrderEvents.json", "Web-Orders.json"]
    events = json.loads((pact_dir / "Mailer-OrderEvents.json").read_text())
    assert [item["description"] for item in events["messages"]] == ["an order paid event", "an order placed event"]
    assert "interactions" not in events

    def order_exists(action: str, parameters: dict[str, Any]) -> None:
        if action == "setup":
            ORDERS[parameters["id"]] = {"id": parameters["id"], "item": "pen", "quantity": 2, "status": "placed", "total": 19.0}

    http = Verifier("Orders", host="127.0.0.1").add_source(pact_dir).add_transport(url=provider_urls["v1"])
    http.state_handler({"an order exists": order_exists, "no orders exist": lambda: ORDERS.clear()}, teardown=True)
    http.verify()  # raises on any failure
    assert [result["description"] for result in http.results["interactionResults"]] == [
        "a request for a missing order", "a request for order 1"
    ]

    def event(status: str) -> dict[str, Any]:
        body = json.dumps({"order_id": 9, "status": status}).encode()
        return {"contents": body, "metadata": {"routing_key": f"orders.{status}"}, "content_type": "application/json"}

    messages = Verifier("OrderEvents", host="127.0.0.1").add_source(pact_dir / "Mailer-OrderEvents.json")
    messages.message_handler({"an order placed event": event("placed"), "an order paid event": event("paid")})
    messages.verify()
    assert len(messages.results["interactionResults"]) == 2


PROVIDER_CONFTEST = """
import itertools

import pytest
from contract_apps import ORDERS, orders_app, serving
from pytest_ipc.contracts import provider_state

NEW_IDS = itertools.count(40)


@provider_state("an order exists", provider="Orders")
def an_order_exists(params):
    # pact-js pacts name the item and read the id back (fromProviderState): the order they ask for
    # is then the only one, so a verifier that drops the id requests an order that does not exist
    if "item" in params:
        ORDERS.clear()
    order_id = next(NEW_IDS) if "item" in params else params.get("id", 1)
    ORDERS[order_id] = {"id": order_id, "item": params.get("item", "pen"), "quantity": 2, "status": "placed", "total": 19.0}
    return {"id": order_id}


@provider_state("no orders exist", provider="Orders")
def no_orders():
    ORDERS.clear()


@provider_state("an order was placed", provider="Orders")
@provider_state("an order was placed", provider="OrderEvents")
def an_order_was_placed():
    pass


@pytest.fixture(scope="session")
def orders_url():
    with serving(orders_app("v1")) as url:
        yield url
"""

PROVIDER_TESTS = """
import pytest
from pytest_ipc.contracts import PublishedMessage


def order_placed():
    return PublishedMessage(b'{"order_id": 7, "status": "paid", "lines": [{"sku": "BOOK-2"}]}', metadata={"routing_key": "orders.placed"})


@pytest.mark.pact_provider("Orders")
def test_orders(pact_interaction, orders_url):
    pact_interaction.verify(orders_url, messages={"an order placed event": order_placed})


@pytest.mark.pact_provider("OrderEvents")
def test_order_events(pact_interaction):
    pact_interaction.verify(messages={"an order placed event": order_placed})
"""


def keyed_v4(document: dict[str, Any]) -> dict[str, Any]:
    """WebJS4's pact as a pact-jvm consumer writes it: every interaction has a `key`, and the
    pending one shares its description and state with the current one."""
    document["consumer"]["name"] = "WebKeys"
    for number, interaction in enumerate(document["interactions"]):
        interaction["key"] = f"{number:04x}c0ffee"
        if interaction.get("pending"):
            interaction["description"] = "a request for order 1"
    return document


def state_parameters_only(document: dict[str, Any]) -> dict[str, Any]:
    """WebJS3's pact with its two order requests under one description, told apart by `item`."""
    document["consumer"]["name"] = "WebParams"
    for interaction in document["interactions"]:
        if interaction["description"].endswith(" order") and interaction["description"].startswith("a request for the"):
            interaction["description"] = "a request for an order"
    return document


def test_the_plugin_verifies_pacts_other_implementations_wrote(pytester: pytest.Pytester) -> None:
    pact_dir = pytester.path / "pacts"
    pact_dir.mkdir()
    for path in FROM_JS.glob("*.json"):
        shutil.copy(path, pact_dir / path.name)
    for source, variant, name in [
        ("WebJS4-Orders.json", keyed_v4, "WebKeys-Orders.json"),
        ("WebJS3-Orders.json", state_parameters_only, "WebParams-Orders.json"),
    ]:
        (pact_dir / name).write_text(json.dumps(variant(json.loads((FROM_JS / source).read_text()))))
    pytester.makepyfile(contract_apps=APPS, test_provider=PROVIDER_TESTS)
    pytester.makeconftest(PROVIDER_CONFTEST)

    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-v", "-rx")

    result.assert_outcomes(passed=14, xfailed=2)
    result.stdout.fnmatch_lines_random([
        # V2: one state without parameters
        "*test_orders?WebJS2 -> Orders: a request for order 1 (given an order exists)? PASSED*",
        # V3 (pact-js): the id the state handler created reaches the request path and the body
        "*test_orders?WebJS3 -> Orders: a request for the pen order (given an order exists: item=pen)? PASSED*",
        "*test_orders?WebJS3 -> Orders: an order is placed? PASSED*",
        # V3: one description, two states: two items, each verifying its own
        "*test_orders?WebParams -> Orders: a request for an order (given an order exists: item=book)? PASSED*",
        "*test_orders?WebParams -> Orders: a request for an order (given an order exists: item=pen)? PASSED*",
        # V3 message pact
        "*test_order_events?MailerJS -> OrderEvents: an order placed event (given an order was placed)? PASSED*",
        # V4: comments, a message, and the pending interaction an expected failure
        "*test_orders?WebJS4 -> Orders: a request for order 1 (given an order exists: id=1)? PASSED*",
        "*test_orders?WebJS4 -> Orders: a request for order 1 with its currency (given an order exists: id=1)? XFAIL*",
        "*test_orders?WebJS4 -> Orders: an order placed event (given an order was placed)? PASSED*",
        # V4 keys: one description and state, two interactions
        "*test_orders?WebKeys -> Orders: a request for order 1 (given an order exists: id=1) ?0000c0ffee?? PASSED*",
        "*test_orders?WebKeys -> Orders: a request for order 1 (given an order exists: id=1) ?0001c0ffee?? XFAIL*",
    ])
