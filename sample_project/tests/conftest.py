"""The sample suite's own fixtures: the real orders service on a free loopback port, and clients.

The orders app runs under uvicorn on a thread for the whole session (per xdist worker); tests that
break the network put the plugin's fault proxy in front of it, tests that need exact answers or
HTTP-level faults stub it with `http_stub`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from orders_service import OrderStore, TokenIssuer, create_app
from shop.client import Credentials, OrdersClient

from pytest_ipc._net import LOOPBACK

SHOP = Credentials("shop", "shop-secret")
STARTUP_TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def orders_store() -> OrderStore:
    return OrderStore()


@pytest.fixture(scope="session")
def token_issuer() -> TokenIssuer:
    return TokenIssuer({SHOP.client_id: SHOP.client_secret})


@pytest.fixture(scope="session")
def orders_api(orders_store: OrderStore, token_issuer: TokenIssuer) -> Iterator[str]:
    """Base URL of the real orders service (Starlette under uvicorn, on a thread)."""
    config = uvicorn.Config(create_app(orders_store, token_issuer), host=LOOPBACK, port=0, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="orders-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:  # uvicorn's own readiness flag: set once its socket listens
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the orders service did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_S)


ClientFactory = Callable[..., OrdersClient]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Build `OrdersClient`s with the shop's credentials (settings overridable); closed after the test."""
    clients: list[OrdersClient] = []

    def make(base_url: str, **settings: object) -> OrdersClient:
        client = OrdersClient(base_url, SHOP, **settings)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
