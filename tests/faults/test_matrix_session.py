"""The fault_matrix marker as a user meets it, in a pytest session of its own: ids, the cells left
out (listed once, not skipped one by one), a fragile client's failures, faults that never fired
(reported as the test's failure after its call), opt-outs, and bad markers as errors that say what
is wrong."""

from __future__ import annotations

import pytest

USER_TESTS = '''
import httpx
import pytest
import requests
from pytest_ipc import faults

def price(url, fallback=True):
    try:
        with httpx.Client(timeout=0.3) as http:
            answer = http.get(url + "/price")
            answer.raise_for_status()
            return answer.json()["eur"]
    except httpx.HTTPError:
        if not fallback:
            raise
        return -1.0

def requests_price(url):
    try:
        answer = requests.get(url + "/price", timeout=0.3)
        answer.raise_for_status()
        return answer.json()["eur"]
    except requests.RequestException:
        return -1.0

@pytest.mark.fault_matrix(faults=["outage", faults.status(503)], layers=["stub", "proxy"])
def test_resilient(http_stub, ipc_target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(ipc_target_url) == -1.0

@pytest.mark.fault_matrix(faults=[faults.latency(0.05), faults.reset()], layers=["respx", "proxy"])
def test_fragile(http_stub, ipc_target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    price(ipc_target_url, fallback=False)

@pytest.mark.fault_matrix(faults=[faults.reset()], layers=["respx"])
def test_requests_client_in_respx(http_stub, ipc_target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    requests_price(ipc_target_url)  # respx cannot reach requests: the reset never fires

@pytest.mark.fault_matrix(faults=[faults.latency(0.05)], layers=["proxy"])
def test_calls_the_stub_directly(http_stub, ipc_target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(http_stub.url) == 3.5  # not ipc_target_url: the proxy sees nothing

@pytest.mark.fault_matrix(faults=[faults.hang()], layers=["stub"], must_fire=False)
def test_never_calls_by_design(http_stub, ipc_target_url):
    pass

def test_allow_unfired(http_stub, ipc_fault):
    ipc_fault.allow_unfired()
test_allow_unfired = pytest.mark.fault_matrix(faults=[faults.hang()], layers=["stub"])(test_allow_unfired)

@pytest.mark.fault_matrix(faults=[faults.outage()], layers=["proxy"])
def test_outage_never_healed(http_stub, ipc_target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(ipc_target_url) == -1.0  # correct, but nothing can count refused connections

@pytest.mark.fault_matrix(faults=[faults.outage()], layers=["proxy"])
def test_outage_healed(http_stub, ipc_fault, ipc_target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(ipc_target_url) == -1.0
    ipc_fault.heal()
    assert price(ipc_target_url) == 3.5

@pytest.mark.fault_matrix(faults=[faults.hang()], layers=["stub"])
def test_raises_its_own_error(http_stub, ipc_target_url):
    raise KeyError("the test's own failure")
'''

# One module per bad marker: a bad marker is a collection error of its whole module.
BAD_MARKERS = {
    "test_bad_name": ('faults=["latncy"]', "unknown fault 'latncy'; choose one of: latency, hang, outage, "),
    "test_bad_layer": ('faults=["hang"], layers=["tcp"]', "unknown fault layer 'tcp'; choose one of: respx, stub, proxy"),
    "test_bad_empty": ("faults=[]", "faults= must be a non-empty list of faults"),
    "test_bad_positional": ('"hang"', "takes only the keyword arguments faults, layers, must_fire, dependency; got ['hang']"),
    "test_bad_keyword": (
        'faults=["hang"], layer=["stub"]', "takes only the keyword arguments faults, layers, must_fire, dependency; got ['layer']"
    ),
    "test_bad_pair": (
        'faults=["hang"], layers=["respx"]',
        "hang cannot be injected at the respx layer (respx answers in-process at once: it cannot hold a real socket open or slow one "
        "down); layers that can: stub, proxy",
    ),
}


@pytest.mark.slow
def test_matrix_in_a_user_session(pytester: pytest.Pytester) -> None:
    bad = {
        name: f"import pytest\n\n@pytest.mark.fault_matrix({marker})\ndef test_it(ipc_target_url):\n    pass\n"
        for name, (marker, _) in BAD_MARKERS.items()
    }
    pytester.makepyfile(
        test_user=USER_TESTS,
        test_no_fixture="import pytest\n\n@pytest.mark.fault_matrix(faults=['hang'])\ndef test_it():\n    pass\n",
        test_no_marker="def test_it(ipc_target_url):\n    pass\n",
        **bad,
    )
    result = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider", "--continue-on-collection-errors", "-n", "2")
    output = result.stdout.str()
    expected = [
        "PASSED test_user.py::test_resilient[stub-status-503]",
        "FAILED test_user.py::test_resilient[proxy-outage]",  # never healed, never connected: unproven
        "FAILED test_user.py::test_fragile[respx-reset]",
        "PASSED test_user.py::test_fragile[proxy-latency-50ms]",
        "FAILED test_user.py::test_fragile[proxy-reset]",
        "FAILED test_user.py::test_requests_client_in_respx[respx-reset]",
        "FAILED test_user.py::test_calls_the_stub_directly[proxy-latency-50ms]",
        "PASSED test_user.py::test_never_calls_by_design[stub-hang]",
        "PASSED test_user.py::test_allow_unfired[stub-hang]",
        "FAILED test_user.py::test_outage_never_healed[proxy-outage]",
        "PASSED test_user.py::test_outage_healed[proxy-outage]",
        "FAILED test_user.py::test_raises_its_own_error[stub-hang]",
        "fault_matrix: 3 cell(s) not generated, the layer cannot express the fault: proxy-status-503, respx-latency-50ms, "
        "stub-outage (in 2 test(s); faults.support_table() says which layer can)",
        "httpx.ReadError: [Errno 104] Connection reset by peer (injected by pytest-ipc)",
        "FaultNeverFired: reset was injected at the respx layer and never fired, so the test exercised nothing of it. "
        "Likely cause: respx only intercepts httpx; this call did not go through httpx (the stub saw 1 request(s) during "
        "the block): use the stub or proxy layer.",
        "FaultNeverFired: latency-50ms was injected at the proxy layer and never fired, so the test exercised nothing of it. "
        "Likely cause: the client never connected through the proxy — did it use ipc_target_url",
        "FaultNeverFired: outage was injected at the proxy layer and never fired",
        "If it does and the test never heals the outage, heal it (ipc_fault.heal(), or leave the faults.inject block) and "
        "make one call through the proxy, or opt out with must_fire=False",
        "KeyError: \"the test's own failure\"",
        "the test must use the ipc_fault or ipc_target_url fixture, which applies each case",
        "ipc_fault_case, ipc_fault and ipc_target_url need @pytest.mark.fault_matrix(faults=[...]) on the test",
        *(message for _, message in BAD_MARKERS.values()),
    ]
    missing = [line for line in expected if line not in output]
    assert not missing, f"not in the output: {missing}\n{output}"
    assert "SKIPPED" not in output
    assert "FAILED test_user.py::test_raises_its_own_error[stub-hang] - KeyError" in output  # its own error, kept
    # each of the two xdist workers reports every module's collection error; test_no_marker errors once
    result.assert_outcomes(passed=5, failed=7, errors=2 * (len(BAD_MARKERS) + 1) + 1)
