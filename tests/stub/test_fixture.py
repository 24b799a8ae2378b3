"""The fixtures as a user sees them: whole pytest sessions run with pytester.

In-process runs keep this file quick (a pytest subprocess costs seconds here); the xdist run is a
subprocess by nature. Inner runs leave out plugins unrelated to the stub: Hypothesis's end-of-session
hook imports Hypothesis afresh in every in-process run (seconds each), pytest-benchmark warns under xdist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_ipc

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")

USER_TESTS = """
import httpx
import pytest

def test_unmatched(http_stub):
    http_stub.expect("GET", "/v1/orders/{order_id}").respond(json={"id": 1})
    httpx.get(http_stub.url_for("/v1/ordrs/7"))
    httpx.post(http_stub.url_for("/v1/orders/7"))

def test_allowed_in_code(http_stub):
    http_stub.allow_unmatched()
    assert httpx.get(http_stub.url_for("/nothing")).status_code == 404

@pytest.mark.http_stub_allow_unmatched
def test_allowed_by_marker(http_stub):
    assert httpx.get(http_stub.url_for("/nothing")).status_code == 404

def test_clean_after_the_others(http_stub, http_stub_server):
    assert http_stub is http_stub_server
    assert http_stub.calls() == [] and http_stub.routes == []
"""


def test_unmatched_requests_fail_the_test_at_teardown_with_a_readable_list(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched*",
            "*http_stub: 2 request(s) matched no route:",
            "*GET /v1/ordrs/7",
            "*closest: GET /v1/orders/{order_id}: path '/v1/ordrs/7' does not match '/v1/orders/{order_id}'",
            "*POST /v1/orders/7",
            "*closest: GET /v1/orders/{order_id}: method POST is not GET",
            "*allow them with http_stub.allow_unmatched() or @pytest.mark.http_stub_allow_unmatched*",
        ]
    )


def test_option_and_env_allow_unmatched(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(USER_TESTS)
    pytester.runpytest_inprocess(*QUIET, "--ipc-stub-allow-unmatched").assert_outcomes(passed=4)
    monkeypatch.setenv("PYTEST_IPC_STUB_ALLOW_UNMATCHED", "1")
    pytester.runpytest_inprocess(*QUIET).assert_outcomes(passed=4)


def test_host_from_env_and_a_bad_host_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        """
        def test_host(http_stub):
            assert http_stub.host == "127.0.0.2" and http_stub.url.startswith("http://127.0.0.2:")
        """
    )
    monkeypatch.setenv("PYTEST_IPC_STUB_HOST", "127.0.0.2")
    pytester.runpytest_inprocess(*QUIET).assert_outcomes(passed=1)
    result = pytester.runpytest_inprocess(*QUIET, "--ipc-stub-host", "not-an-ip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-stub-host: 'not-an-ip' is not an IP address*"])


@pytest.mark.slow
def test_listen_address_override_and_late_requests_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """One xdist session (seconds to start): the overridden address on every worker, and a worker's
    late requests in the controller's summary."""
    monkeypatch.setenv("PYTHONPATH", str(Path(pytest_ipc.__file__).parents[1]))  # the pytest_ipc under test
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def http_stub_listen_address():
            return "127.0.0.3", 0
        """
    )
    pytester.makepyfile(
        test_address="""
        import httpx, pytest

        @pytest.mark.parametrize("n", range(8))
        def test_stub(http_stub, n):
            assert http_stub.host == "127.0.0.3"
            http_stub.expect("GET", "/n").respond(json={"n": n})
            assert httpx.get(http_stub.url_for("/n")).json() == {"n": n}
        """,
        test_late="""
        import httpx

        URL = {}

        def test_one(http_stub):
            URL["one"] = http_stub.url_for("/late")

        def test_two(http_stub):
            assert httpx.get(URL["one"]).status_code == 503
        """,
    )
    result = pytester.runpytest_subprocess(*QUIET, "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["*1 request(s) arrived after their test ended*", "  test_late.py::test_one GET /late"])
