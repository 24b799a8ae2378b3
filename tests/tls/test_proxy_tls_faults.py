"""The TLS faults at a fault proxy that terminates TLS: it presents the bad certificate, requires or
refuses client certificates (mutual TLS where it terminates), speaks only an old protocol, or holds
the handshake; each is seen by requests, httpx (sync and async) and aiohttp as the error they raise
in production, counted as fired, and gone after the block."""

from __future__ import annotations

import re

import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.client import Proxy, ScopedToxiproxy, TlsTermination
from pytest_ipc.faults import FaultNeverFired, FaultUsageError
from pytest_ipc.security import is_verification_failure
from pytest_ipc.stub import HttpStub
from pytest_ipc.tls import CertificateAuthority
from tests.tls.test_tls_faults import CLOSED, production_errors

TIMEOUT = "timed out|Timeout|TimeoutError"
# TLS 1.3 settles client certificates after the client's handshake: the alert comes on its first read
SYMPTOMS: list[tuple[faults.Fault, str]] = [
    (faults.expired_certificate(), "certificate has expired"),
    (faults.not_yet_valid_certificate(), "certificate is not yet valid"),
    (faults.wrong_host(), "(Hostname|IP address) mismatch"),
    (faults.unknown_ca(), "unable to get local issuer certificate"),
    (faults.self_signed(), "self.signed certificate"),
    (faults.client_cert_required(), f"CERTIFICATE_REQUIRED|certificate required|{CLOSED}"),
    (faults.client_cert_rejected(), f"UNKNOWN_CA|unknown ca|{CLOSED}"),
    (faults.client_cert_expired(), f"CERTIFICATE_EXPIRED|certificate expired|{CLOSED}"),
    (faults.old_protocol(), "UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|no protocols|UNEXPECTED_EOF_WHILE_READING|EndOfStream|ConnectionReset"),
    (faults.old_protocol("TLSv1.1"), "UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|no protocols|UNEXPECTED_EOF_WHILE_READING|EndOfStream"),
    (faults.handshake_stall(), TIMEOUT),
    (faults.handshake_reset(), "Connection reset|ConnectionReset|BrokenResourceError"),  # anyio (async httpx) says BrokenResource
]
CERTIFICATE_FAULTS = (faults.ExpiredCertificate, faults.NotYetValidCertificate, faults.WrongHost, faults.UnknownCa, faults.SelfSigned)
MUTUAL = (faults.ClientCertRejected, faults.ClientCertExpired)  # the client holds a good certificate; the proxy refuses it


def text_of(error: BaseException) -> str:
    return repr(error) + str(error) + repr(error.__cause__) + repr(error.__context__)


@pytest.fixture
def terminating(https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority) -> Proxy:
    https_stub.expect("GET", "/price").respond(json={"eur": 1})
    return toxiproxy.create_proxy(https_stub.server.address, tls=TlsTermination.issued_by(ipc_tls_ca))


@pytest.mark.parametrize(("fault", "symptom"), SYMPTOMS, ids=[fault.label for fault, _ in SYMPTOMS])
def test_every_tls_fault_at_a_terminating_proxy_is_the_production_error_for_every_client(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority, fault: faults.Fault, symptom: str
) -> None:
    https_stub.expect("GET", "/price").respond(json={"eur": 1})
    mutual = isinstance(fault, MUTUAL)
    termination = TlsTermination.issued_by(ipc_tls_ca, require_client_certificate=mutual)
    proxy = toxiproxy.create_proxy(https_stub.server.address, tls=termination)
    certificate = ipc_tls_ca.client_certificate() if mutual else None
    url = proxy.url + "/price"
    timeout = 0.3 if isinstance(fault, faults.HandshakeStall) else 2.0
    with faults.inject(fault, into=proxy) as active:
        errors = production_errors(url, ipc_tls_ca, certificate, timeout=timeout)
    for client, error in errors.items():
        assert re.search(symptom, text_of(error)), (client, error)
    if isinstance(fault, CERTIFICATE_FAULTS):
        assert all(is_verification_failure(error) for error in errors.values())
    if isinstance(fault, faults.HandshakeStall):
        assert isinstance(errors["httpx"], httpx.ConnectTimeout) and isinstance(errors["requests"], requests.Timeout)
    assert (active.activations() or 0) >= 4, "each client's handshake should have met the fault"
    assert https_stub.calls() == [], "no request may pass a failed handshake"
    pair = None if certificate is None else (str(certificate.cert_path), str(certificate.key_path))
    answer = requests.get(url, verify=str(ipc_tls_ca.bundle_path), cert=pair, timeout=2)
    assert answer.json() == {"eur": 1}, "the proxy's own handshake should be back after the block"


def test_a_correct_client_passes_a_terminating_proxy_with_mutual_tls_and_a_client_without_a_certificate_is_refused(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority
) -> None:
    https_stub.expect("GET", "/price").respond(json={"eur": 1})
    proxy = toxiproxy.create_proxy(https_stub.server.address, tls=TlsTermination.issued_by(ipc_tls_ca, require_client_certificate=True))
    certificate = ipc_tls_ca.client_certificate("billing.pytest-ipc.test")
    with httpx.Client(verify=ipc_tls_ca.client_context(certificate)) as client:
        assert client.get(proxy.url + "/price").json() == {"eur": 1}
    anonymous = production_errors(proxy.url + "/price", ipc_tls_ca, None)
    assert all(re.search(f"CERTIFICATE_REQUIRED|certificate required|{CLOSED}", text_of(error)) for error in anonymous.values())


def test_a_broken_client_that_skips_verification_is_not_stopped_by_a_bad_certificate(
    terminating: Proxy, ipc_tls_ca: CertificateAuthority
) -> None:
    with faults.inject(faults.expired_certificate(probability=0.5), into=terminating, must_fire=False) as half:
        answers = [httpx.get(terminating.url + "/price", verify=False, timeout=2).status_code for _ in range(8)]
    assert answers == [200] * 8, "verify=False accepts the expired certificate: this is the defect a verifying test catches"
    assert 0 < (half.activations() or 0) < 8, "probability=0.5 should hit some handshakes, not all"


def test_a_proxy_tls_fault_that_met_no_handshake_never_fired(terminating: Proxy) -> None:
    with pytest.raises(FaultNeverFired, match=r"no TLS handshake met the fault on proxy .*did the client call its https:// URL"):
        with faults.inject(faults.self_signed(), into=terminating):
            pass


def test_a_certificate_fault_at_a_pass_through_proxy_says_which_layers_can(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, terminating: Proxy
) -> None:
    passing = toxiproxy.create_proxy(https_stub.server.address)
    needs = r"expired-certificate at the proxy layer needs a proxy that terminates TLS.*can: respx, stub, proxy, grpc \(proxy: term"
    with pytest.raises(FaultUsageError, match=needs):
        faults.start(faults.expired_certificate(), into=passing)
    read_back = toxiproxy.client.get_proxy(terminating.name)
    with pytest.raises(FaultUsageError, match=r"issues its bad certificate from the proxy's certificate authority"):
        faults.start(faults.unknown_ca(), into=read_back)
    assert faults.layers_for(faults.expired_certificate()) == ("respx", "stub", "proxy", "grpc")


def test_the_tls_fault_endpoint_refuses_what_it_cannot_do_and_reset_takes_the_fault_away(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, terminating: Proxy, ipc_tls_ca: CertificateAuthority
) -> None:
    passing = toxiproxy.create_proxy(https_stub.server.address)
    refusals = [
        (passing, {"handshake": "stall"}, "proxy passes TLS through: only a proxy created with a tls object"),
        (terminating, {"version": "SSLv3"}, "tls_fault: unknown version 'SSLv3'; choose one of: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"),
        (terminating, {"handshake": "drop"}, "tls_fault: unknown handshake 'drop'; choose one of: stall, reset"),
        (terminating, {"handshake": "reset", "version": "TLSv1"}, "a held handshake (stall, reset) presents nothing"),
        (terminating, {"toxicity": 1.0}, "tls_fault needs one of certificate and key, client_ca, version or handshake"),
        (terminating, {"client_ca": str(ipc_tls_ca.directory / "missing.pem")}, "tls_fault: cannot load the certificate, key or client_ca"),
    ]
    for proxy, body, message in refusals:
        answer = httpx.post(f"{toxiproxy.url}/proxies/{proxy.name}/tls_fault", json=body, timeout=5)
        assert (answer.status_code, answer.json()["error"]) == (400, message) or message in answer.json()["error"], answer.text
    terminating.set_tls_fault(handshake="reset")
    url = terminating.url + "/price"
    with pytest.raises(requests.ConnectionError, match="Connection reset"):
        requests.get(url, verify=str(ipc_tls_ca.bundle_path), timeout=2)
    toxiproxy.reset()  # the scope's reset, like the server's /reset, takes TLS faults away too
    assert requests.get(url, verify=str(ipc_tls_ca.bundle_path), timeout=2).json() == {"eur": 1}
    assert terminating.counters().tls_fault_activations == 1
