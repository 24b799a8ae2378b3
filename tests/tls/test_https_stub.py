"""`https_stub`: real clients (requests, httpx sync and async, aiohttp) trusting the session CA's
bundle reach it; a client trusting the system store instead is refused (the broken one). Mutual
TLS: a client with a CA-issued certificate gets in and the journal names it; one without, or with
a bad certificate, is cut off with the error the library raises. Under TLS 1.3 the client's
handshake ends before the server checks its certificate, and asyncio closes without sending the
alert: the client sees the connection closed when it reads its answer."""

from __future__ import annotations

import ssl

import aiohttp
import httpx
import pytest
import requests

from pytest_ipc.stub import HttpStub
from pytest_ipc.tls import BAD_CLIENT_CERTIFICATES, CertificateAuthority, TlsUsageError

CUT_OFF = (httpx.ConnectError, httpx.RemoteProtocolError)


def test_requests_trusting_the_bundle_reaches_the_https_stub(https_stub: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    https_stub.expect("GET", "/orders/1").respond(status=200, json={"id": 1})
    assert https_stub.url.startswith("https://127.0.0.1:")
    answer = requests.get(https_stub.url_for("/orders/1"), verify=str(ipc_tls_ca.bundle_path), timeout=5)
    assert answer.json() == {"id": 1}
    assert https_stub.calls()[0].request.client_subject is None  # no client certificate was sent


def test_a_client_trusting_only_the_system_store_is_refused(https_stub: HttpStub) -> None:
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(https_stub.url_for("/"), timeout=5)
    assert https_stub.calls() == []


def test_httpx_sync_by_host_name(https_stub: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    https_stub.expect("GET", "/ping").respond(status=204)
    with httpx.Client(verify=ipc_tls_ca.client_context()) as client:
        assert client.get(f"https://localhost:{https_stub.port}/ping").status_code == 204


@pytest.mark.asyncio
async def test_httpx_async_and_aiohttp(https_stub: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    https_stub.expect("GET", "/ping").respond(status=200, text="pong")
    async with httpx.AsyncClient(verify=ipc_tls_ca.client_context()) as client:
        assert (await client.get(https_stub.url_for("/ping"))).text == "pong"
    async with aiohttp.ClientSession() as session, session.get(https_stub.url_for("/ping"), ssl=ipc_tls_ca.client_context()) as answer:
        assert await answer.text() == "pong"
    https_stub.assert_called("GET /ping", times=2)


def test_mutual_tls_admits_a_client_certificate_and_journals_its_subject(
    https_stub: HttpStub, ipc_tls_ca: CertificateAuthority
) -> None:
    https_stub.require_client_certificate()
    https_stub.expect("GET", "/me").respond(status=200)
    certificate = ipc_tls_ca.client_certificate("orders.pytest-ipc.test")
    identity = (str(certificate.cert_path), str(certificate.key_path))
    answer = requests.get(https_stub.url_for("/me"), verify=str(ipc_tls_ca.bundle_path), cert=identity, timeout=5)
    assert answer.status_code == 200
    subject = https_stub.calls()[0].request.client_subject
    assert subject == certificate.subject and subject.startswith("CN=orders.pytest-ipc.test,")


def test_mutual_tls_refuses_a_client_without_a_certificate(https_stub: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    https_stub.require_client_certificate()
    with pytest.raises(requests.exceptions.ConnectionError, match=r"closed connection without response|EOF"):
        requests.get(https_stub.url_for("/me"), verify=str(ipc_tls_ca.bundle_path), timeout=5)
    with httpx.Client(verify=ipc_tls_ca.client_context()) as client, pytest.raises(CUT_OFF):
        client.get(https_stub.url_for("/me"))
    assert https_stub.calls() == []


@pytest.mark.parametrize("defect", BAD_CLIENT_CERTIFICATES)
def test_mutual_tls_refuses_a_bad_client_certificate(https_stub: HttpStub, ipc_tls_ca: CertificateAuthority, defect: str) -> None:
    https_stub.require_client_certificate()
    with httpx.Client(verify=ipc_tls_ca.client_context(ipc_tls_ca.bad_client_certificate(defect))) as client:
        with pytest.raises(CUT_OFF):
            client.get(https_stub.url_for("/me"))
    assert https_stub.calls() == []


def test_mutual_tls_lasts_one_test(https_stub: HttpStub, ipc_tls_ca: CertificateAuthority) -> None:
    https_stub.require_client_certificate()
    https_stub.end_test()  # what the fixture does between tests
    https_stub.begin_test("next")
    https_stub.expect("GET", "/").respond(status=200)
    assert requests.get(https_stub.url, verify=str(ipc_tls_ca.bundle_path), timeout=5).status_code == 200


def test_require_client_certificate_needs_https(http_stub: HttpStub) -> None:
    with pytest.raises(TlsUsageError, match="needs a stub serving HTTPS"):
        http_stub.require_client_certificate()
    assert http_stub.url.startswith("http://")


def test_old_protocol_server_is_refused_by_a_default_client(ipc_tls_ca: CertificateAuthority) -> None:
    context = ipc_tls_ca.server_context(version=ssl.TLSVersion.TLSv1_1)
    with HttpStub(tls=context) as stub:
        stub.allow_unmatched()
        with httpx.Client(verify=ipc_tls_ca.client_context()) as client, pytest.raises(httpx.ConnectError):
            client.get(stub.url)
        old_client = ipc_tls_ca.client_context(version=ssl.TLSVersion.TLSv1_1)
        with httpx.Client(verify=old_client) as client:
            assert client.get(stub.url).status_code == 404
