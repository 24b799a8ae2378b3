"""Small real provider apps (Starlette on uvicorn, on a real loopback port) for the contract tests.

`orders_app(version)` builds the Orders provider: "v1", "v2" (adds the optional request field
`gift_wrap` with a default and the response field `currency`), "breaking" (total becomes a string and
`status` disappears), "strict" (v2 that requires `gift_wrap`) and "secured" (v1 that answers 401
without `Authorization: Bearer s3cret`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pytest_ipc._net import LOOPBACK

ORDERS: dict[int, dict[str, Any]] = {}
VERSIONS = ("v1", "v2", "breaking", "strict", "secured")
TOKEN = "s3cret"


def orders_app(version: str) -> Starlette:
    if version not in VERSIONS:
        raise ValueError(f"unknown provider version {version!r}; choose one of {VERSIONS}")

    def render(order: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": order["id"],
            "item": order["item"],
            "quantity": order["quantity"],
            "status": order["status"],
            "total": order["total"],
            "_links": {"self": {"href": f"/orders/{order['id']}"}},
        }
        if version in ("v2", "strict"):
            body["currency"] = "EUR"
            body["gift_wrap"] = order.get("gift_wrap", False)
        if version == "breaking":
            body["total"] = str(order["total"])
            del body["status"]
        return body

    async def get_order(request: Request) -> Response:
        if version == "secured" and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "who are you?"}, status_code=401)
        order = ORDERS.get(int(request.path_params["order_id"]))
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        return JSONResponse(render(order))

    async def create_order(request: Request) -> Response:
        payload = await request.json()
        if version == "strict" and "gift_wrap" not in payload:
            return JSONResponse({"error": "gift_wrap is required"}, status_code=422)
        order = {
            "id": max(ORDERS, default=0) + 1,
            "item": payload["item"],
            "quantity": payload["quantity"],
            "status": "placed",
            "total": 9.5 * payload["quantity"],
            "gift_wrap": payload.get("gift_wrap", False),
        }
        ORDERS[order["id"]] = order
        return JSONResponse(render(order), status_code=201)

    async def order_xml(request: Request) -> Response:
        order = ORDERS.get(int(request.path_params["order_id"]))
        if order is None:
            return Response("<error>no such order</error>", status_code=404, media_type="application/xml")
        xml = f'<order id="{order["id"]}"><item>{order["item"]}</item><status>{order["status"]}</status></order>'
        return Response(xml, media_type="application/xml")

    return Starlette(
        routes=[
            Route("/orders/{order_id:int}", get_order),
            Route("/orders/{order_id:int}.xml", order_xml),
            Route("/orders", create_order, methods=["POST"]),
        ]
    )


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Run `app` on a free loopback port in a thread; yield its base URL; stop it on exit."""
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=0, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, name="provider-app", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the provider app did not start")
        threading.Event().wait(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
