"""Robustness of the shop's readers: the provider may add, drop (optional) and reorder fields.

`@pytest.mark.tolerant_reader` runs each test a second time with the stub's JSON evolved. The
shop's readers pass; the first version's strict reader is kept as an expected failure, so readers of
this suite see what the check catches.
"""

from __future__ import annotations

import httpx
import pytest
from shop import naive

from pytest_ipc.stub import HttpStub

from .conftest import ClientFactory
from .orders_stub import ORDER, ORDER_ID, serve_order

# One xdist worker runs all the contract tests: each process that evolves responses or starts Pact's
# core pays a one-off start-up cost (Faker's providers, the Pact FFI library), so pay it once.
pytestmark = pytest.mark.xdist_group("contracts")


@pytest.mark.tolerant_reader(seed=11)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_shop_reads_orders_tolerantly(http_stub: HttpStub, make_client: ClientFactory, version: str) -> None:
    serve_order(http_stub, version)
    assert make_client(http_stub.url, api_version=version).get_order(ORDER_ID) == ORDER


@pytest.mark.xfail(strict=True, reason="the first reader refused unknown fields: any field the provider adds breaks it")
@pytest.mark.tolerant_reader(seed=11)
def test_first_version_reader_breaks_on_added_fields(http_stub: HttpStub) -> None:
    serve_order(http_stub)
    assert naive.fetch_order(http_stub.url, "t-1", ORDER_ID) == ORDER


@pytest.mark.xfail(strict=True, raises=httpx.HTTPStatusError,
                   reason="the first client made one attempt: a single 503 from the orders API broke the page")
def test_first_version_client_breaks_on_one_503(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/v2/orders/{order_id}").fail_first(1).then_respond(json={})
    naive.fetch_order(http_stub.url, "t-1", ORDER_ID)
