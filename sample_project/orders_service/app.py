"""The orders API. /v1 and /v2 are served side by side: v1 keeps old clients working while v2
reshapes an order (line items, money as integer cents with a currency)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from .store import Order, OrderStore
from .tokens import TokenIssuer

PUBLIC_PATHS = ("/health", "/auth/token")


def order_v1(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "sku": order.sku,
        "quantity": order.quantity,
        "status": order.status,
        "total": order.total_cents / 100,
    }


def order_v2(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "status": order.status,
        "customer": order.customer,
        "items": [{"sku": order.sku, "quantity": order.quantity, "unit_price_cents": order.unit_price_cents}],
        "total": {"amount_cents": order.total_cents, "currency": order.currency},
    }


class RequireServiceToken(BaseHTTPMiddleware):
    """Every API call needs `Authorization: Bearer <token>` from /auth/token (401 otherwise)."""

    def __init__(self, app: Any, issuer: TokenIssuer) -> None:
        super().__init__(app)
        self.issuer = issuer

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path in PUBLIC_PATHS:
            return await call_next(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.issuer.valid(token):
            return JSONResponse(
                {"error": "invalid or expired service token"}, 401, headers={"www-authenticate": "Bearer"}
            )
        return await call_next(request)


def _not_found(order_id: int) -> JSONResponse:
    return JSONResponse({"error": f"no order {order_id}"}, 404)


def create_app(store: OrderStore, issuer: TokenIssuer) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def token(request: Request) -> Response:
        form = await request.json()
        issued = issuer.issue(str(form.get("client_id", "")), str(form.get("client_secret", "")))
        if issued is None:
            return JSONResponse({"error": "unknown client"}, 401)
        return JSONResponse({"access_token": issued, "token_type": "bearer", "expires_in": int(issuer.ttl_s)})

    def getter(render: Any) -> Any:
        async def get_order(request: Request) -> Response:
            order_id = int(request.path_params["order_id"])
            order = store.get(order_id)
            return _not_found(order_id) if order is None else JSONResponse(render(order))

        return get_order

    async def create_v1(request: Request) -> Response:
        body = await request.json()
        order = store.add(str(body["sku"]), int(body["quantity"]), round(float(body["unit_price"]) * 100))
        return JSONResponse(order_v1(order), 201)

    async def create_v2(request: Request) -> Response:
        body = await request.json()
        (item,) = body["items"]  # one line item per order in this sample
        order = store.add(str(item["sku"]), int(item["quantity"]), int(item["unit_price_cents"]),
                          customer=str(body.get("customer", "anonymous")))
        return JSONResponse(order_v2(order), 201)

    routes = [
        Route("/health", health),
        Route("/auth/token", token, methods=["POST"]),
        Mount("/v1", routes=[
            Route("/orders", create_v1, methods=["POST"]),
            Route("/orders/{order_id:int}", getter(order_v1)),
        ]),
        Mount("/v2", routes=[
            Route("/orders", create_v2, methods=["POST"]),
            Route("/orders/{order_id:int}", getter(order_v2)),
        ]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequireServiceToken, issuer=issuer)])
