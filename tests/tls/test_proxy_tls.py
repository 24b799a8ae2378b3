"""The fault proxy and TLS. By default it passes TLS through untouched: a real HTTPS client reaches
the HTTPS stub through it, sees the stub's own certificate, mutual TLS works end to end, and a
toxic still fires on the encrypted bytes. With `tls=TlsTermination(...)` it ends the client's TLS
with its own certificate and opens TLS to the upstream, so toxics count and cut plaintext."""

from __future__ import annotations

import socket
import ssl
import time

import httpx
import pytest
import requests

from pytest_ipc.client import InvalidRequest, ScopedToxiproxy, TlsTermination
from pytest_ipc.stub import HttpStub
from pytest_ipc.tls import CertificateAuthority

REQUEST = b"GET /plain HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
PROXY_NAMES = ("localhost", "127.0.0.1", "proxy.pytest-ipc.test")  # a certificate the stub does not present


def peer_certificate_and_answer(context: ssl.SSLContext, address: tuple[str, int]) -> tuple[bytes, bytes]:
    """The DER certificate the TLS peer at `address` presented, and its whole answer to REQUEST."""
    with socket.create_connection(address, timeout=5) as raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(REQUEST)
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate, answer


def der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode())


def test_tls_passes_through_untouched_with_a_toxic_firing(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority
) -> None:
    https_stub.expect("GET", "/orders").respond(json=[1, 2])
    https_stub.expect("GET", "/plain").respond(text="hello")
    proxy = toxiproxy.create_proxy(https_stub.server.address)
    assert not proxy.terminates_tls and proxy.url.startswith("http://")
    with proxy.latency(0.2) as toxic, httpx.Client(verify=ipc_tls_ca.client_context()) as client:
        started = time.monotonic()
        answer = client.get(f"https://localhost:{proxy.port}/orders")
        elapsed = time.monotonic() - started
        assert answer.json() == [1, 2]
        assert elapsed >= 0.2, f"the latency toxic did not delay the TLS exchange ({elapsed:.3f} s)"
        assert proxy.counters().toxics[toxic.name].activations >= 1
    certificate, _ = peer_certificate_and_answer(ipc_tls_ca.client_context(), proxy.address)
    assert certificate == der(ipc_tls_ca.server_certificate().chain_pem), "the client should see the stub's own certificate"


def test_mutual_tls_passes_through_to_the_stub(https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority) -> None:
    https_stub.require_client_certificate()
    https_stub.expect("GET", "/me").respond(status=200)
    proxy = toxiproxy.create_proxy(https_stub.server.address)
    certificate = ipc_tls_ca.client_certificate("billing.pytest-ipc.test")
    with proxy.slicer(64, 16) as toxic:  # the TLS records arrive in small pieces: still one handshake
        answer = requests.get(
            f"https://127.0.0.1:{proxy.port}/me",
            verify=str(ipc_tls_ca.bundle_path),
            cert=(str(certificate.cert_path), str(certificate.key_path)),
            timeout=5,
        )
        assert answer.status_code == 200
        assert proxy.counters().toxics[toxic.name].activations >= 1
    assert https_stub.calls()[0].request.client_subject == certificate.subject


def test_a_terminating_proxy_presents_its_certificate_and_toxics_see_plaintext(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority
) -> None:
    https_stub.expect("GET", "/plain").respond(text="hello")
    proxy = toxiproxy.create_proxy(https_stub.server.address, tls=TlsTermination.issued_by(ipc_tls_ca, *PROXY_NAMES))
    assert proxy.terminates_tls and proxy.url == f"https://127.0.0.1:{proxy.port}"
    certificate, answer = peer_certificate_and_answer(ipc_tls_ca.client_context(), proxy.address)
    assert answer.endswith(b"hello")
    assert certificate == der(ipc_tls_ca.server_certificate(*PROXY_NAMES).chain_pem)
    counters = proxy.counters()
    assert counters.upstream.received == len(REQUEST), "the proxy should count the plaintext request, not TLS records"
    assert counters.downstream.sent == len(answer)


def test_a_terminating_proxy_fires_toxics_on_plaintext_for_real_clients(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority
) -> None:
    https_stub.expect("GET", "/big").respond(body=b"x" * 20000)
    proxy = toxiproxy.create_proxy(https_stub.server.address, tls=TlsTermination.issued_by(ipc_tls_ca))
    with proxy.limit_data(1000) as toxic, httpx.Client(verify=ipc_tls_ca.client_context()) as client:
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|complete message body"):
            client.get(proxy.url + "/big")
        assert proxy.counters().toxics[toxic.name].connections_cut == 1
    with proxy.latency(0.2), httpx.Client(verify=ipc_tls_ca.client_context()) as client:
        started = time.monotonic()
        assert len(client.get(proxy.url + "/big").content) == 20000
        assert time.monotonic() - started >= 0.2


def test_a_terminating_proxy_presents_a_client_certificate_to_a_mutual_tls_upstream(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority
) -> None:
    https_stub.require_client_certificate()
    https_stub.expect("GET", "/me").respond(status=200)
    certificate = ipc_tls_ca.client_certificate("proxy.pytest-ipc.test")
    anonymous = toxiproxy.create_proxy(https_stub.server.address, tls=TlsTermination.issued_by(ipc_tls_ca))
    proxy = toxiproxy.create_proxy(https_stub.server.address, tls=TlsTermination.issued_by(ipc_tls_ca, upstream_client=certificate))
    with httpx.Client(verify=ipc_tls_ca.client_context()) as client:
        with pytest.raises(httpx.RemoteProtocolError):  # the upstream refused the proxy: the client's connection ends
            client.get(anonymous.url + "/me")
        assert client.get(proxy.url + "/me").status_code == 200
    assert [entry.request.client_subject for entry in https_stub.calls()] == [certificate.subject]


def test_a_terminating_proxy_checks_the_upstream_certificate(
    https_stub: HttpStub, toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority
) -> None:
    termination = TlsTermination.issued_by(ipc_tls_ca, upstream_server_name="not-the-stub.pytest-ipc.test")
    proxy = toxiproxy.create_proxy(https_stub.server.address, tls=termination)
    with httpx.Client(verify=ipc_tls_ca.client_context()) as client, pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)):
        client.get(proxy.url)
    assert proxy.counters().upstream_failures == 1
    assert https_stub.calls() == []


def test_unusable_tls_files_are_refused_with_the_reason(toxiproxy: ScopedToxiproxy, ipc_tls_ca: CertificateAuthority) -> None:
    missing = ipc_tls_ca.directory / "no-such.pem"
    with pytest.raises(InvalidRequest, match="cannot load the certificate, key, upstream_ca, client_ca or upstream certificate"):
        toxiproxy.create_proxy("127.0.0.1:1", tls=TlsTermination(missing, missing, ipc_tls_ca.bundle_path))
