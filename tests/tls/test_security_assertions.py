"""The security assertions: each catches its broken client with a clear message and passes the correct one."""

from __future__ import annotations

import http.client
import ssl

import aiohttp
import httpx
import pytest
import requests

from pytest_ipc.security import (
    aio,
    assert_no_credentials_over_plaintext,
    assert_presents_client_certificate,
    assert_verifies_server,
    is_verification_failure,
)
from pytest_ipc.stub import HttpStub
from pytest_ipc.tls import CertificateAuthority

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


def test_a_request_answered_just_before_the_call_is_not_counted_as_its(orders: HttpStub) -> None:
    """The call after a leaking one may begin well under a millisecond after the stub read the leak: only
    requests that arrived once the call began are the call's (a 1 ms slack failed a correct client)."""
    connection = http.client.HTTPConnection(orders.host, orders.port, timeout=2)
    try:
        for _ in range(20):
            connection.request("GET", "/orders", headers={"Authorization": f"Bearer {SECRET}"})
            connection.getresponse().read()
            assert_no_credentials_over_plaintext(lambda: requests.get(orders.url_for("/orders"), timeout=2), orders)
    finally:
        connection.close()


def test_a_call_that_never_reached_the_stub_proves_nothing(orders: HttpStub) -> None:
    with pytest.raises(AssertionError, match=r"no request reached the plain-HTTP stub .* did the call use the stub's URL"):
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
            async with session.get(url, headers={"Authorization": aiohttp.encode_basic_auth("svc", SECRET)}) as answer:
                return answer.status

        with pytest.raises(AssertionError, match=r"header Authorization \(Basic scheme\)"):
            await aio.assert_no_credentials_over_plaintext(basic, orders)


# -- the client verifies the server: an unknown CA and a wrong host name must fail the handshake ----
@pytest.fixture
def prices(https_stub: HttpStub) -> HttpStub:
    https_stub.expect("GET", "/price").respond(json={"eur": 1})
    return https_stub


def test_a_verifying_client_passes_with_every_library(prices: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    url = prices.url_for("/price")
    outcomes = assert_verifies_server(lambda: requests.get(url, verify=str(ipc_tls_ca.bundle_path), timeout=2), prices)
    assert [is_verification_failure(outcome.error) for outcome in outcomes if outcome.error] == [True, True]
    assert_verifies_server(lambda: httpx.get(url, verify=ipc_tls_ca.client_context(), timeout=2), prices)
    assert len(prices.calls()) == 2  # each client's control call with the valid certificate; none under a fault


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the broken client's own warning
def test_verify_false_is_caught(prices: HttpStub) -> None:
    url = prices.url_for("/price")
    with pytest.raises(AssertionError) as caught:
        assert_verifies_server(lambda: httpx.get(url, verify=False, timeout=2), prices)
    assert str(caught.value).startswith("server not verified: expected the handshake to fail when the stub presented unknown-ca")
    assert "it does not verify the server's certificate chain (verify=False, ssl.CERT_NONE" in str(caught.value)
    with pytest.raises(AssertionError, match="measured 1 request"):
        assert_verifies_server(lambda: requests.get(url, verify=False, timeout=2), prices)


def test_cert_none_and_check_hostname_false_are_caught(prices: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    url = prices.url_for("/price")
    anything = ssl.create_default_context()
    anything.check_hostname = False
    anything.verify_mode = ssl.CERT_NONE
    with pytest.raises(AssertionError, match="presented unknown-ca"):
        assert_verifies_server(lambda: httpx.get(url, verify=anything, timeout=2), prices)
    any_host = ipc_tls_ca.client_context()
    any_host.check_hostname = False  # the chain is checked, the name is not
    with pytest.raises(AssertionError, match=r"presented wrong-host.*it verifies the chain but not the host name \(check_hostname=False"):
        assert_verifies_server(lambda: httpx.get(url, verify=any_host, timeout=2), prices)


def test_a_call_that_never_reached_the_https_stub_proves_nothing(prices: HttpStub, http_stub: HttpStub) -> None:
    with pytest.raises(AssertionError, match="no TLS handshake reached the stub while it presented unknown-ca"):
        assert_verifies_server(lambda: 1 / 0, prices)
    with pytest.raises(AssertionError, match=r"reached the stub 0 time\(s\): a client that refuses every server proves nothing"):
        assert_verifies_server(lambda: httpx.get(prices.url_for("/price"), timeout=2), prices)  # trusts the system CAs only
    with pytest.raises(ValueError, match="needs the stub in HTTPS mode"):
        assert_verifies_server(lambda: None, http_stub)


@pytest.mark.asyncio
async def test_async_clients_are_judged_alike(prices: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    url = prices.url_for("/price")
    async with httpx.AsyncClient(verify=ipc_tls_ca.client_context(), timeout=2) as good:
        await aio.assert_verifies_server(lambda: good.get(url), prices)
        with pytest.raises(AssertionError, match=r"without a new TLS handshake .* kept alive"):
            await aio.assert_verifies_server(lambda: good.get(url), prices)  # its pool holds the last call's connection
    async with aiohttp.ClientSession() as session:

        async def blind() -> int:
            async with session.get(url, ssl=False) as answer:  # aiohttp's verify=False
                return answer.status

        with pytest.raises(AssertionError, match="server not verified"):
            await aio.assert_verifies_server(blind, prices)


# -- the client presents its certificate when the server requires one (mTLS) -------------------------
def test_the_client_certificate_is_presented(prices: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    url = prices.url_for("/price")
    mine = ipc_tls_ca.client_certificate("orders.pytest-ipc.test")
    outcome = assert_presents_client_certificate(
        lambda: requests.get(url, verify=str(ipc_tls_ca.bundle_path), cert=(str(mine.cert_path), str(mine.key_path)), timeout=2), prices
    )
    assert outcome.value.json() == {"eur": 1}  # type: ignore[attr-defined]
    assert prices.calls()[-1].request.client_subject == mine.subject
    del outcome
    with pytest.raises(AssertionError) as caught:
        assert_presents_client_certificate(lambda: httpx.get(url, verify=ipc_tls_ca.client_context(), timeout=2), prices)
    assert str(caught.value).startswith("client certificate not presented: expected the call to succeed against a stub that requires")
    assert "Load the client's certificate and key into its TLS context" in str(caught.value)


@pytest.mark.asyncio
async def test_the_client_certificate_is_presented_by_async_clients(prices: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    url = prices.url_for("/price")
    async with httpx.AsyncClient(verify=ipc_tls_ca.client_context(ipc_tls_ca.client_certificate()), timeout=2) as client:
        await aio.assert_presents_client_certificate(lambda: client.get(url), prices)
    async with httpx.AsyncClient(verify=ipc_tls_ca.client_context(), timeout=2) as anonymous:
        with pytest.raises(AssertionError, match="client certificate not presented"):
            await aio.assert_presents_client_certificate(lambda: anonymous.get(url), prices)
