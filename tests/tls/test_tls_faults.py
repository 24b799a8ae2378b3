"""The TLS faults: validated values, each injected at the layers that can, seen by real clients as in production."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import aiohttp
import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.client import Proxy
from pytest_ipc.faults import FaultNeverFired, FaultNotSupported, FaultUsageError, InProcess
from pytest_ipc.security import is_verification_failure
from pytest_ipc.stub import HttpStub
from pytest_ipc.tls import Certificate, CertificateAuthority

TLS_FAULTS = [
    faults.expired_certificate(), faults.not_yet_valid_certificate(), faults.wrong_host(), faults.unknown_ca(),
    faults.self_signed(), faults.client_cert_required(), faults.client_cert_rejected(), faults.client_cert_expired(),
    faults.handshake_stall(), faults.handshake_reset(), faults.old_protocol(),
]  # fmt: skip


def test_tls_faults_are_named_validated_and_made_by_name() -> None:
    assert [fault.label for fault in TLS_FAULTS] == [
        "expired-certificate", "not-yet-valid-certificate", "wrong-host", "unknown-ca", "self-signed",
        "client-cert-required", "client-cert-rejected", "client-cert-expired", "handshake-stall", "handshake-reset",
        "old-protocol-tlsv1",
    ]  # fmt: skip
    assert faults.make("old_protocol", version="TLSv1.1").label == "old-protocol-tlsv11"
    assert faults.make("wrong_host", host="other.test") == faults.wrong_host("other.test")
    with pytest.raises(FaultUsageError, match=r"old_protocol: unknown version 'SSLv3'; choose one of: TLSv1, TLSv1.1"):
        faults.old_protocol("SSLv3")  # type: ignore[arg-type]
    with pytest.raises(FaultUsageError, match="wrong_host: host must be a non-empty host name"):
        faults.wrong_host("")
    with pytest.raises(FaultUsageError, match="expired_certificate: probability must be a number from 0 to 1"):
        faults.expired_certificate(probability=2)


def test_each_tls_fault_names_the_layers_that_can_express_it() -> None:
    assert faults.layers_for(faults.handshake_stall()) == ("respx", "proxy")
    assert faults.layers_for(faults.handshake_reset()) == ("respx", "proxy")
    for fault in TLS_FAULTS[:-3] + TLS_FAULTS[-1:]:  # a terminating proxy: all; stubs (HTTPS, gRPC): all but a held handshake
        assert faults.layers_for(fault) == ("respx", "stub", "proxy", "grpc"), fault
    with pytest.raises(FaultNotSupported, match=r"handshake-stall \(times=1\) cannot be injected at the proxy layer .*times="):
        faults.check_supported(faults.handshake_stall(times=1), "proxy")


# -- the proxy, pass-through: it sees the ClientHello and stalls or resets it -----------------------
def https(proxy: Proxy) -> str:
    return proxy.url.replace("http://", "https://", 1) + "/price"


async def aiohttp_get(url: str) -> str:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session, session.get(url) as answer:
        return await answer.text()


def outcome_of(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("the call succeeded through a TLS fault")


@pytest.fixture
def proxy(toxiproxy, http_stub: HttpStub) -> Proxy:  # type: ignore[no-untyped-def]
    created: Proxy = toxiproxy.create_proxy(upstream=f"{http_stub.host}:{http_stub.port}")
    return created


def test_handshake_stall_at_the_proxy_is_a_handshake_timeout_for_every_client(proxy: Proxy) -> None:
    url = https(proxy)
    with faults.inject(faults.handshake_stall(), into=proxy) as stall:
        from_httpx = outcome_of(lambda: httpx.get(url, timeout=0.2))
        from_requests = outcome_of(lambda: requests.get(url, timeout=0.2))
        from_aiohttp = outcome_of(lambda: asyncio.run(aiohttp_get(url)))
        assert stall.activations() == 3  # three handshakes, each opened with a ClientHello and swallowed
    assert isinstance(from_httpx, httpx.ConnectTimeout) and "handshake operation timed out" in str(from_httpx)
    assert isinstance(from_requests, requests.Timeout)  # urllib3 reports the stalled handshake as a read timeout
    assert isinstance(from_aiohttp, TimeoutError)
    assert proxy.toxics() == {}


@pytest.mark.asyncio
async def test_handshake_faults_at_the_proxy_reach_an_async_httpx_client(proxy: Proxy) -> None:
    async with httpx.AsyncClient(timeout=0.2) as client:
        with faults.inject(faults.handshake_stall(), into=proxy):
            with pytest.raises(httpx.ConnectTimeout):  # anyio's handshake timeout has no text
                await client.get(https(proxy))
        with faults.inject(faults.handshake_reset(), into=proxy):
            with pytest.raises(httpx.ConnectError):
                await client.get(https(proxy))


def test_handshake_reset_at_the_proxy_is_a_connection_reset_for_every_client(proxy: Proxy) -> None:
    url = https(proxy)
    with faults.inject(faults.handshake_reset(), into=proxy) as reset:
        from_httpx = outcome_of(lambda: httpx.get(url, timeout=1.0))
        from_requests = outcome_of(lambda: requests.get(url, timeout=1.0))
        from_aiohttp = outcome_of(lambda: asyncio.run(aiohttp_get(url)))
    assert reset.activations() == 3
    assert isinstance(from_httpx, httpx.ConnectError) and "Connection reset by peer" in str(from_httpx)
    assert isinstance(from_requests, requests.ConnectionError) and "Connection reset by peer" in str(from_requests)
    assert isinstance(from_aiohttp, aiohttp.ClientConnectorError) and isinstance(from_aiohttp.os_error, ConnectionResetError)


def test_a_handshake_fault_that_met_no_clienthello_never_fired(proxy: Proxy, http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/price").respond(json={"eur": 1})
    with pytest.raises(FaultNeverFired, match=r"no connection opened with a TLS ClientHello \(record type 0x16\): it spoke plain text"):
        with faults.inject(faults.handshake_reset(), into=proxy):
            outcome_of(lambda: httpx.get(proxy.url + "/price", timeout=1.0))  # http://: the reset hits a plain request


# -- respx: the production error, faked in-process (handling, not verification) -------------------
CERTIFICATE_SYMPTOMS = [
    (faults.expired_certificate(), "certificate has expired"),
    (faults.not_yet_valid_certificate(), "certificate is not yet valid"),
    (faults.wrong_host(), "Hostname mismatch"),
    (faults.unknown_ca(), "unable to get local issuer certificate"),
    (faults.self_signed(), "self-signed certificate"),
]


def test_respx_fakes_the_certificate_error_httpx_raises(http_stub: HttpStub) -> None:
    for fault, symptom in CERTIFICATE_SYMPTOMS:
        with faults.inject(fault, into=InProcess(http_stub.url)) as active, httpx.Client() as client:
            with pytest.raises(httpx.ConnectError, match=symptom) as raised:
                client.get(http_stub.url_for("/price"))
        assert is_verification_failure(raised.value)  # what pytest_ipc.security reads as a failed verification
        assert active.activations() == 1
    assert http_stub.calls() == []


HANDSHAKE_ERRORS: list[tuple[faults.Fault, type[Exception], str]] = [
    (faults.handshake_stall(), httpx.ConnectTimeout, "The handshake operation timed out"),
    (faults.handshake_reset(), httpx.ConnectError, "Connection reset by peer"),
    (faults.client_cert_required(), httpx.ReadError, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
    (faults.client_cert_rejected(), httpx.ReadError, "TLSV1_ALERT_UNKNOWN_CA"),
    (faults.client_cert_expired(), httpx.ReadError, "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
    (faults.old_protocol(), httpx.ConnectError, "UNSUPPORTED_PROTOCOL"),
]


@pytest.mark.asyncio
async def test_respx_fakes_handshake_errors_for_async_httpx(http_stub: HttpStub) -> None:
    async with httpx.AsyncClient() as client:
        for fault, error, text in HANDSHAKE_ERRORS:
            with faults.inject(fault, into=InProcess(http_stub.url)) as active:
                with pytest.raises(error, match=text):
                    await client.get(http_stub.url_for("/price"))
            assert active.activations() == 1
    assert http_stub.calls() == []


# -- the HTTPS stub: it presents the bad certificate or demands one, for the block only ------------
CLOSED = "Remote end closed connection without response|Server disconnected|BrokenResourceError|ConnectionReset|Connection reset"
SYMPTOMS = [
    (faults.expired_certificate(), "certificate has expired"),
    (faults.not_yet_valid_certificate(), "certificate is not yet valid"),
    (faults.wrong_host(), "(Hostname|IP address) mismatch"),  # dialled by name, or by IP
    (faults.unknown_ca(), "unable to get local issuer certificate"),
    (faults.self_signed(), "self.signed certificate"),
    # TLS 1.3 settles client certificates after the client's handshake: the alert comes on its first read,
    # and http.client (requests) reports only that the server closed without an answer
    (faults.client_cert_required(), f"CERTIFICATE_REQUIRED|certificate required|{CLOSED}"),
    (faults.client_cert_rejected(), f"UNKNOWN_CA|unknown ca|{CLOSED}"),
    (faults.client_cert_expired(), f"CERTIFICATE_EXPIRED|certificate expired|{CLOSED}"),  # the stub trusts the client's root, expired
    # the server gives up on a ClientHello it cannot answer: an alert, or a bare close or reset
    (faults.old_protocol(), "UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|no protocols|UNEXPECTED_EOF_WHILE_READING|EndOfStream|ConnectionReset"),
]


def production_errors(
    url: str, ca: CertificateAuthority, client_certificate: Certificate | None, timeout: float = 2.0
) -> dict[str, BaseException]:
    """What requests, httpx (sync and async) and aiohttp raise when they call `url` as a correct client would."""
    pair = None if client_certificate is None else (str(client_certificate.cert_path), str(client_certificate.key_path))
    context = ca.client_context(client_certificate)

    async def with_httpx() -> None:
        async with httpx.AsyncClient(verify=context, timeout=timeout) as client:
            (await client.get(url)).raise_for_status()

    async def with_aiohttp() -> None:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        async with session, session.get(url, ssl=context) as answer:
            answer.raise_for_status()

    return {
        "requests": outcome_of(lambda: requests.get(url, verify=str(ca.bundle_path), cert=pair, timeout=timeout)),
        "httpx": outcome_of(lambda: httpx.get(url, verify=context, timeout=timeout)),
        "httpx-async": outcome_of(lambda: asyncio.run(with_httpx())),
        "aiohttp": outcome_of(lambda: asyncio.run(with_aiohttp())),
    }


@pytest.mark.parametrize(("fault", "symptom"), SYMPTOMS, ids=[fault.label for fault, _ in SYMPTOMS])
def test_every_tls_fault_at_the_https_stub_is_the_production_error_for_every_client(
    https_stub: HttpStub, ipc_tls_ca: CertificateAuthority, fault: faults.Fault, symptom: str
) -> None:
    https_stub.expect("GET", "/price").respond(json={"eur": 1})
    url = https_stub.url_for("/price")
    mutual = isinstance(fault, (faults.ClientCertRejected, faults.ClientCertExpired))  # the client holds a good certificate
    certificate = ipc_tls_ca.client_certificate() if mutual else None
    with faults.inject(fault, into=https_stub) as active:
        errors = production_errors(url, ipc_tls_ca, certificate)
    for client, error in errors.items():
        assert re.search(symptom, repr(error) + str(error) + repr(error.__cause__) + repr(error.__context__)), (client, error)
    if fault.label in {"expired-certificate", "not-yet-valid-certificate", "wrong-host", "unknown-ca", "self-signed"}:
        assert all(is_verification_failure(error) for error in errors.values())
    assert (active.activations() or 0) >= 4 and https_stub.calls() == []  # each handshake hit it (aiohttp retries a GET once)
    assert requests.get(url, verify=str(ipc_tls_ca.bundle_path), timeout=2).json() == {"eur": 1}  # restored after the block


def test_stub_tls_faults_say_where_they_cannot_act(https_stub: HttpStub, http_stub: HttpStub) -> None:
    proxys = r"handshake-stall cannot be injected at the stub layer .* the proxy's\); layers that can: respx, proxy"
    with pytest.raises(FaultNotSupported, match=proxys):
        faults.check_supported(faults.handshake_stall(), "stub")
    expired = r"client-cert-expired \(probability=0.5\) cannot be injected at the stub layer .*layers that can: respx, proxy"
    with pytest.raises(FaultNotSupported, match=expired):
        faults.check_supported(faults.client_cert_expired(probability=0.5), "stub")
    with pytest.raises(FaultNotSupported, match=r"old-protocol-tlsv1 \(times=1\) cannot be injected at the stub layer"):
        faults.check_supported(faults.old_protocol(times=1), "stub")
    with pytest.raises(FaultUsageError, match=r"needs the stub serving HTTPS .* has no TLS"):
        faults.start(faults.expired_certificate(), into=http_stub)
    with pytest.raises(FaultNotSupported, match="a TLS fault acts on the handshake, before any request"):
        https_stub.expect("GET", "/price").respond(json={}).inject(faults.self_signed())


def test_a_stub_tls_fault_no_handshake_met_never_fired(https_stub: HttpStub) -> None:
    with pytest.raises(FaultNeverFired, match=r"no TLS handshake reached the stub during the block: did the client call its https:// URL"):
        with faults.inject(faults.expired_certificate(), into=https_stub):
            pass
    https_stub.expect("GET", "/x").respond(json={})
    with faults.inject(faults.expired_certificate(probability=0.5, seed=3), into=https_stub, must_fire=False) as half:
        answers = [httpx.get(https_stub.url_for("/x"), verify=False, timeout=2).status_code for _ in range(6)]
    assert 0 < (half.activations() or 0) < 6 and answers == [200] * 6  # verify=False: the bad certificate goes unnoticed
