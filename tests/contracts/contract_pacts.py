"""Pact files the provider-side tests verify, made the way a consumer makes them: by a real client
exercising a Pact mock server (so every file is one pact-python really wrote).

Orders v1 consumer: read an order, place one (item, quantity), get a 404 for a missing one, and read
the XML view. The v2 consumer also sends the optional `gift_wrap` and reads `currency`.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from pact import match, xml

from pytest_ipc.contracts.consumer import ManagedPact

ORDER_BODY = {
    "id": match.int(1),
    "item": match.str("pen"),
    "quantity": match.int(2),
    "status": match.str("placed"),
    "total": match.number(19.0),
    "_links": {"self": {"href": match.str("/orders/1")}},
}


def write_orders_pact(directory: Path, consumer_version: str) -> Path:
    """The pact of consumer "OrdersWeb<version>" ("V1" or "V2") with provider "Orders"."""
    pact = ManagedPact(f"OrdersWeb{consumer_version}", "Orders")
    order_body = dict(ORDER_BODY)
    new_order: dict[str, object] = {"item": "pen", "quantity": 2}
    if consumer_version == "V2":
        order_body["currency"] = match.str("EUR")
        new_order["gift_wrap"] = True
    (
        pact.upon_receiving("a request for order 1")
        .given("an order exists", id=1)
        .with_request("GET", "/orders/1")
        .will_respond_with(200)
        .with_body(order_body)
    )
    (
        pact.upon_receiving("an order is placed")
        .with_request("POST", "/orders")
        .with_body(new_order, "application/json")
        .will_respond_with(201)
        .with_body({"id": match.int(2), "status": match.str("placed")})
    )
    (
        pact.upon_receiving("a request for a missing order")
        .given("no orders exist")
        .with_request("GET", "/orders/999")
        .will_respond_with(404)
    )
    (
        pact.upon_receiving("the XML view of order 1")
        .given("an order exists", id=1)
        .with_request("GET", "/orders/1.xml")
        .will_respond_with(200)
        .with_body(
            xml.body(xml.element("order", xml.element("item", match.str("pen")), attrs={"id": match.int(1)})),
            "application/xml",
        )
    )
    with pact.serve() as server, httpx.Client(base_url=str(server.url)) as client:
        assert client.get("/orders/1").json()["id"] == 1
        assert client.post("/orders", json=new_order).status_code == 201
        assert client.get("/orders/999").status_code == 404
        assert "<item>pen</item>" in client.get("/orders/1.xml").text
    pact.write_file(directory, overwrite=True)
    return directory / f"OrdersWeb{consumer_version}-Orders.json"


def write_events_pact(directory: Path) -> Path:
    """Consumer "Mailer" expects an "order placed" event from provider "OrderEvents"."""
    pact = ManagedPact("Mailer", "OrderEvents")
    (
        pact.upon_receiving("an order placed event", "Async")
        .with_body({"order_id": match.int(7), "status": match.regex("placed", regex="placed|paid")}, "application/json")
        .with_metadata({"routing_key": "orders.placed"})
    )
    pact.verify(lambda body, metadata: None, "Async")
    pact.write_file(directory, overwrite=True)
    return directory / "Mailer-OrderEvents.json"


def write_invoice_xml_pact(directory: Path) -> Path:
    """Consumer "Ledger" expects an XML "invoice issued" event from provider "InvoiceEvents"."""
    pact = ManagedPact("Ledger", "InvoiceEvents")
    invoice = xml.element("invoice", xml.element("total", match.number(10.5)), attrs={"id": match.int(3)})
    pact.upon_receiving("an invoice issued event", "Async").with_body(xml.body(invoice), "application/xml")
    received: list[str] = []
    pact.verify(lambda body, metadata: received.append(str(body)), "Async")
    assert "<total>10.5</total>" in received[0]
    pact.write_file(directory, overwrite=True)
    return directory / "Ledger-InvoiceEvents.json"
