"""The security assertions: each catches its broken client with a clear message and passes the correct one."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
import requests

from pytest_ipc.security import aio, assert_no_credentials_over_plaintext
from pytest_ipc.stub import HttpStub

SECRET = "s3cr3t-token-value"


@pytest.fixture
def orders(http_stub: HttpStub) -> HttpStub:
    http_stub.expect("GET", "/orders").respond(json=[])
    return http_stub


def test_a_bearer_token_over_http_is_caught_by_name_never_by_value(orders: HttpStub) -> None:
    url = orders.url_for("/orders")
    with pytest.raises(AssertionError) as caught:
        assert_no_credentials_over_plaintext(lambda: httpx.get(url, headers={"Authorization": f"Bearer {SECRET}"}), orders)
    message = str(caught.value)
    assert "credentials sent over plain text" in message
    assert "GET /orders: header Authorization (Bearer scheme)" in message and SECRET not in message
    assert "call the service over https://" in message


def test_basic_credentials_and_api_keys_over_http_are_caught(orders: HttpStub) -> None:
    url = orders.url_for("/orders")
    with pytest.raises(AssertionError, match=r"header Authorization \(Basic scheme\)") as caught:
        assert_no_credentials_over_plaintext(lambda: requests.get(url, auth=("svc", SECRET), timeout=2), orders)
    assert SECRET not in str(caught.value)
    with pytest.raises(AssertionError, match="header X-Api-Key, query parameter access_token"):
        assert_no_credentials_over_plaintext(
            lambda: requests.get(url, params={"access_token": SECRET}, headers={"X-Api-Key": SECRET}, timeout=2), orders
        )


def test_a_client_that_keeps_credentials_off_http_passes(orders: HttpStub) -> None:
    outcome = assert_no_credentials_over_plaintext(lambda: requests.get(orders.url_for("/orders"), timeout=2), orders)
    assert outcome.error is None and outcome.value.status_code == 200  # type: ignore[attr-defined]


def test_a_call_that_never_reached_the_stub_proves_nothing(orders: HttpStub) -> None:
    with pytest.raises(AssertionError, match="no request reached the plain-HTTP stub .* did the call use the stub's URL"):
        assert_no_credentials_over_plaintext(lambda: None, orders)
    assert_no_credentials_over_plaintext(lambda: None, orders, must_reach=False)  # a client that refuses http:// outright
    with pytest.raises(ValueError, match="wait_up_to must be a finite number of seconds > 0"):
        assert_no_credentials_over_plaintext(lambda: None, orders, wait_up_to=0)


@pytest.mark.asyncio
async def test_async_clients_over_http(orders: HttpStub) -> None:
    url = orders.url_for("/orders")
    async with httpx.AsyncClient(timeout=2) as client:
        with pytest.raises(AssertionError, match=r"header Authorization \(Bearer scheme\)"):
            await aio.assert_no_credentials_over_plaintext(lambda: client.get(url, headers={"Authorization": f"Bearer {SECRET}"}), orders)
        await aio.assert_no_credentials_over_plaintext(lambda: client.get(url), orders)
    async with aiohttp.ClientSession() as session:

        async def basic() -> int:
            async with session.get(url, auth=aiohttp.BasicAuth("svc", SECRET)) as answer:
                return answer.status

        with pytest.raises(AssertionError, match=r"header Authorization \(Basic scheme\)"):
            await aio.assert_no_credentials_over_plaintext(basic, orders)
