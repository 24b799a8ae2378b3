"""The fault_matrix marker as a user meets it, in a pytest session of its own: ids, skip reasons, a
fragile client's failures, and bad marker arguments as collection errors that say what is wrong."""

from __future__ import annotations

import pytest

USER_TESTS = '''
import httpx
import pytest
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

@pytest.mark.fault_matrix(faults=["outage", faults.status(503)], layers=["stub", "proxy"])
def test_resilient(http_stub, target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    assert price(target_url) == -1.0

@pytest.mark.fault_matrix(faults=[faults.latency(0.05), faults.reset()], layers=["respx", "proxy"])
def test_fragile(http_stub, target_url):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    price(target_url, fallback=False)
'''

ASSERTION_FAILURE = '''
import httpx
from pytest_ipc import faults
from pytest_ipc.resilience import assert_timeout_honoured

def test_client_without_timeout(http_stub):
    http_stub.expect("GET", "/price").respond(json={"eur": 3.5})
    with httpx.Client(timeout=None) as http, faults.inject(faults.hang(), into=http_stub):
        assert_timeout_honoured(lambda: http.get(http_stub.url_for("/price")), budget=0.2, slack=0.1, stub=http_stub)
'''

# One module per bad marker: a bad marker is a collection error of its whole module.
BAD_MARKERS = {
    "test_bad_name": ('faults=["latncy"]', "unknown fault 'latncy'; choose one of: latency, hang, outage, "),
    "test_bad_layer": ('faults=["hang"], layers=["tcp"]', "unknown fault layer 'tcp'; choose one of: respx, stub, proxy"),
    "test_bad_empty": ("faults=[]", "faults= must be a non-empty list of faults"),
    "test_bad_positional": ('"hang"', "takes only the keyword arguments faults, layers; got ['hang']"),
    "test_bad_keyword": ('faults=["hang"], layer=["stub"]', "takes only the keyword arguments faults, layers; got ['layer']"),
}


def test_matrix_in_a_user_session(pytester: pytest.Pytester) -> None:
    bad = {name: f"import pytest\n\n@pytest.mark.fault_matrix({marker})\ndef test_it(target_url):\n    pass\n" for name, (marker, _) in BAD_MARKERS.items()}
    pytester.makepyfile(
        test_user=USER_TESTS,
        test_assertion=ASSERTION_FAILURE,
        test_no_fixture="import pytest\n\n@pytest.mark.fault_matrix(faults=['hang'])\ndef test_it():\n    pass\n",
        test_no_marker="def test_it(target_url):\n    pass\n",
        **bad,
    )
    result = pytester.runpytest_subprocess("-v", "-rs", "-p", "no:cacheprovider", "--continue-on-collection-errors")
    output = result.stdout.str()
    expected = [
        "test_user.py::test_resilient[stub-outage] SKIPPED",
        "test_user.py::test_resilient[stub-status-503] PASSED",
        "test_user.py::test_resilient[proxy-outage] PASSED",
        "test_user.py::test_resilient[proxy-status-503] SKIPPED",
        "test_user.py::test_fragile[respx-latency-50ms] SKIPPED",
        "test_user.py::test_fragile[respx-reset] FAILED",
        "test_user.py::test_fragile[proxy-latency-50ms] PASSED",
        "test_user.py::test_fragile[proxy-reset] FAILED",
        "layers that can: respx, proxy",  # outage at the stub
        "status 503 cannot be injected at the proxy layer (the proxy relays TCP bytes and cannot speak HTTP); layers that can: respx, stub",
        "latency cannot be injected at the respx layer",
        "httpx.ReadError: [Errno 104] Connection reset by peer (injected by pytest-ipc)",
        "AssertionError: timeout not honoured: expected the call to return or raise within 0.20 s (+0.10 s slack), measured more than",
        "the client waited for the stub: it held 1 request(s) for up to",
        "the test must use the injected_fault or target_url fixture, which applies each case",
        "fault_case, injected_fault and target_url need @pytest.mark.fault_matrix(faults=[...]) on the test",
        *(message for _, message in BAD_MARKERS.values()),
    ]
    missing = [line for line in expected if line not in output]
    assert not missing, f"not in the output: {missing}\n{output}"
    result.assert_outcomes(passed=3, failed=3, skipped=3, errors=len(BAD_MARKERS) + 2)
