"""The fault_matrix over the HTTPS stub, as a user meets it in a session of its own: TLS faults and
ordinary HTTP faults in one matrix, at the stub and at a TLS-terminating proxy in front of it; a
verifying client passes every cell, one with verify=False is caught on each certificate cell with
its message, and a TLS fault over the plain http_stub is a usage error saying what to use."""

from __future__ import annotations

import pytest

USER_TESTS = '''
import httpx
import pytest
from pytest_ipc import faults

FALLBACK = -1.0


def price(url, verify):
    try:
        with httpx.Client(verify=verify, timeout=0.5) as http:
            answer = http.get(url + "/price")
            answer.raise_for_status()
            return answer.json()["eur"]
    except httpx.HTTPError:
        return FALLBACK


TLS_AND_HTTP = [
    faults.expired_certificate(), faults.unknown_ca(), faults.wrong_host(), faults.client_cert_required(),
    faults.old_protocol(), faults.handshake_stall(), faults.status(503), faults.hang(), faults.reset(),
]


@pytest.mark.fault_matrix(faults=TLS_AND_HTTP, layers=["stub", "proxy"])
def test_verifying_client(https_stub, ipc_tls_ca, ipc_target_url):
    https_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert ipc_target_url.startswith("https://")
    assert price(ipc_target_url, ipc_tls_ca.client_context()) == FALLBACK


@pytest.mark.fault_matrix(faults=[faults.expired_certificate(), faults.self_signed(), faults.status(503)], layers=["stub", "proxy"])
def test_unverifying_client(https_stub, ipc_target_url):
    https_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(ipc_target_url, False) == FALLBACK, "the client accepted a bad certificate"


@pytest.mark.fault_matrix(faults=[faults.latency(0.05)], layers=["proxy"])
def test_through_the_terminating_proxy(https_stub, ipc_tls_ca, ipc_fault, ipc_target_url):
    https_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert ipc_fault.proxy.terminates_tls and ipc_target_url == ipc_fault.proxy.url
    assert price(ipc_target_url, ipc_tls_ca.client_context()) == 3.5
'''

PLAIN_STUB = '''
import pytest
from pytest_ipc import faults


@pytest.mark.fault_matrix(faults=[faults.expired_certificate()], layers=["stub", "proxy"])
def test_it(http_stub, ipc_target_url):
    pass
'''


@pytest.mark.slow
def test_matrix_over_the_https_stub_in_a_user_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS, test_plain=PLAIN_STUB)
    result = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", "--continue-on-collection-errors")
    output = result.stdout.str()
    cells = ["expired-certificate", "unknown-ca", "wrong-host", "client-cert-required", "old-protocol-tlsv1", "status-503", "hang", "reset"]
    expected = [
        *(f"PASSED test_user.py::test_verifying_client[stub-{cell}]" for cell in cells),
        *(f"PASSED test_user.py::test_verifying_client[proxy-{cell}]" for cell in cells if cell != "status-503"),
        "PASSED test_user.py::test_verifying_client[proxy-handshake-stall]",
        "PASSED test_user.py::test_unverifying_client[stub-status-503]",
        *(
            f"FAILED test_user.py::test_unverifying_client[{layer}-{cell}]"
            for layer in ("stub", "proxy")
            for cell in ("expired-certificate", "self-signed")
        ),
        "E       AssertionError: the client accepted a bad certificate",
        "PASSED test_user.py::test_through_the_terminating_proxy[proxy-latency-50ms]",
        "fault_matrix: 2 cell(s) not generated, the layer cannot express the fault: proxy-status-503, stub-handshake-stall",
        "expired-certificate needs a TLS handshake: the test calls the http_stub (plain HTTP); use the https_stub fixture",
    ]
    missing = [line for line in expected if line not in output]
    assert not missing, f"not in the output: {missing}\n{output}"
    assert "FaultNeverFired" not in output
    assert output.count("AssertionError: the client accepted a bad certificate") >= 4
    result.assert_outcomes(passed=18, failed=4, errors=1)
