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


UNMATCHED_REPORT = [
    "*ERROR at teardown of test_unmatched*",
    "*http_stub: 2 request(s) matched no route:",
    "*GET /v1/ordrs/7",
    "*closest: GET /v1/orders/{order_id}: path '/v1/ordrs/7' does not match '/v1/orders/{order_id}'",
    "*POST /v1/orders/7",
    "*closest: GET /v1/orders/{order_id}: method POST is not GET",
]
WIREMOCK_TESTS = """
def test_served_by_wiremock(http_stub):
    assert http_stub.backend == BACKEND and http_stub.server.name == "wiremock"
"""


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.parametrize("backend", ["container", "external"])
def test_wiremock_serves_the_same_fixture_and_teardown_report(pytester: pytest.Pytester, backend: str) -> None:
    """``--ipc-stub-backend container`` (or a WireMock URL): the same tests, the same verdicts."""
    from pytest_ipc.backends.stub_container import WireMockContainerBackend
    from tests import images

    outer = WireMockContainerBackend(images.WIREMOCK)
    if (reason := outer.unavailable_reason()) is not None:
        pytest.skip(reason)
    pytester.makepyfile(test_user=USER_TESTS, test_backend=f"BACKEND = {backend!r}\n" + WIREMOCK_TESTS)
    if backend == "container":
        result = pytester.runpytest_inprocess(*QUIET, "--ipc-stub-backend=container", f"--ipc-stub-image={images.WIREMOCK}")
    else:
        stub = outer.start()
        try:
            result = pytester.runpytest_inprocess(*QUIET, f"--ipc-stub-url={stub.url}")
        finally:
            outer.stop()
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(UNMATCHED_REPORT)


def test_no_stub_backend_that_can_run_skips_with_every_reason(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-docker.sock")
    pytester.makepyfile("def test_stub(http_stub): pass")
    result = pytester.runpytest_inprocess(*QUIET, "-rs", "--ipc-stub-backend=container")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*no HTTP stub can run here: container: no Docker engine answers at unix://*no-docker.sock (no such socket); "
            "start dockerd or set DOCKER_HOST (hint: give one with --ipc-stub-url (a WireMock 3 base URL, "
            "http://HOST:PORT), or `docker pull` its image on a Docker engine (another image: --ipc-stub-image))"
        ]
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--ipc-stub-backend=wiremock",),
            "*--ipc-stub-backend: unknown backend 'wiremock'; choose one of: auto, external, embedded, container",
        ),
        (("--ipc-stub-backend=external",), "*--ipc-stub-backend external needs a URL: give one with --ipc-stub-url / PYTEST_IPC_STUB_URL*"),
        (("--ipc-stub-url=127.0.0.1:8080",), "*--ipc-stub-url: '127.0.0.1:8080' is not a usable URL; expected http://HOST:PORT"),
    ],
    ids=["unknown-backend", "external-without-url", "malformed-url"],
)
def test_bad_stub_backend_settings_are_usage_errors(pytester: pytest.Pytester, args: tuple[str, ...], expected: str) -> None:
    pytester.makepyfile("def test_stub(http_stub): pass")
    result = pytester.runpytest_inprocess(*QUIET, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_a_wiremock_url_where_nothing_answers_is_an_error_not_a_fallback(pytester: pytest.Pytester) -> None:
    from pytest_ipc._net import free_port

    pytester.makepyfile("def test_stub(http_stub): pass")
    result = pytester.runpytest_inprocess(*QUIET, f"--ipc-stub-url=http://127.0.0.1:{free_port()}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the external WireMock (from --ipc-stub-url): WireMock at http://127.0.0.1:* did not answer GET /__admin/health*"]
    )


@pytest.mark.slow
def test_an_external_wiremock_is_not_shared_by_xdist_workers(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(pytest_ipc.__file__).parents[1]))  # the pytest_ipc under test
    pytester.makepyfile("def test_stub(http_stub): pass")
    result = pytester.runpytest_subprocess(*QUIET, "-n", "2", "--ipc-stub-url=http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*an external WireMock serves one session alone (each test resets it), not 2 xdist workers*"])
