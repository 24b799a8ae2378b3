"""The session CA's certificates are what they claim: each bad server certificate is refused by a
correct client with the reason its defect names, and accepted by a broken client that does not
verify (so the refusal is the defect's, not the server's); a server pinned to TLS 1.1 is refused by
a default client. Bad names are usage errors listing the choices; the files go with the CA."""

from __future__ import annotations

import datetime
import ssl

import httpx
import pytest

from pytest_ipc.stub import HttpStub
from pytest_ipc.tls import BAD_SERVER_CERTIFICATES, CertificateAuthority, TlsUsageError

REASONS = {
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "wrong-host": "address mismatch",  # the stub is reached by IP; by name it says "Hostname mismatch"
    "unknown-ca": "unable to get local issuer certificate",
    "self-signed": "self-signed certificate",
}


@pytest.mark.parametrize("defect", BAD_SERVER_CERTIFICATES)
def test_a_bad_server_certificate_is_refused_for_its_defect(ipc_tls_ca: CertificateAuthority, defect: str) -> None:
    with HttpStub(tls=ipc_tls_ca.server_context(ipc_tls_ca.bad_server_certificate(defect))) as stub:
        stub.expect("GET", "/").respond(status=204)
        with httpx.Client(verify=ipc_tls_ca.client_context()) as correct, pytest.raises(httpx.ConnectError, match=REASONS[defect]):
            correct.get(stub.url)
        with httpx.Client(verify=False) as broken:  # the defect a correct client catches
            assert broken.get(stub.url).status_code == 204


def test_certificates_are_issued_once_and_name_their_subject(ipc_tls_ca: CertificateAuthority) -> None:
    assert ipc_tls_ca.server_certificate() is ipc_tls_ca.server_certificate("localhost", "127.0.0.1", "::1")
    client = ipc_tls_ca.client_certificate("orders.pytest-ipc.test")
    assert client.subject.startswith("CN=orders.pytest-ipc.test,") and "pytest-ipc session CA" in client.issuer
    now = datetime.datetime.now(datetime.UTC)
    assert ipc_tls_ca.bad_client_certificate("expired").not_after < now < client.not_after
    assert ipc_tls_ca.bad_server_certificate("not-yet-valid").not_before > now


def test_bad_names_are_usage_errors_listing_the_choices(ipc_tls_ca: CertificateAuthority) -> None:
    with pytest.raises(TlsUsageError, match="choose one of expired, not-yet-valid, wrong-host"):
        ipc_tls_ca.bad_server_certificate("revoked")
    with pytest.raises(TlsUsageError, match="choose one of expired, not-yet-valid, unknown-ca, self-signed"):
        ipc_tls_ca.bad_client_certificate("wrong-host")
    with pytest.raises(TlsUsageError, match=r"not a TLS protocol version; use one of ssl.TLSVersion.TLSv1"):
        ipc_tls_ca.server_context(version=ssl.TLSVersion.MAXIMUM_SUPPORTED)


def test_the_files_go_with_the_authority() -> None:
    with CertificateAuthority() as ca:
        certificate = ca.server_certificate()
        assert certificate.cert_path.read_bytes() == certificate.chain_pem
    assert not ca.directory.exists()
