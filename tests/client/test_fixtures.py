"""The toxiproxy fixtures and options as a user meets them: whole pytest sessions run by pytester."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_ipc._net import free_port
from pytest_ipc.client import ToxiproxyClient
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

# A test module for the inner sessions: a proxy in front of a listening socket, data through it.
THROUGH_A_PROXY = """
import socket
import time


def send_through(proxy, upstream):
    with socket.create_connection(proxy.address, timeout=5) as client:
        server, _ = upstream.accept()
        with server:
            started = time.monotonic()
            server.sendall(b"hi")
            assert client.recv(2) == b"hi"
            return time.monotonic() - started


def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_latency_through_a_created_proxy(toxiproxy, toxiproxy_server):
    assert toxiproxy_server.backend == EXPECTED_BACKEND
    with listener() as upstream:
        proxy = toxiproxy.create_proxy(upstream.getsockname())
        assert proxy.name in toxiproxy.client.proxies()
        with proxy.latency(0.6):
            assert send_through(proxy, upstream) >= 0.6
        assert send_through(proxy, upstream) < 0.5


def test_fails_after_creating_proxies(toxiproxy):
    toxiproxy.create_proxy("127.0.0.1:9").timeout(0)
    toxiproxy.create_proxy("127.0.0.1:9").disable()
    assert False, "this test fails on purpose"
"""


@pytest.fixture(autouse=True)
def _isolated_inner_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """No toxiproxy settings leak in from outside, and only the plugins under test load: the other
    installed ones (hypothesis, faker, ...) would only slow inner sessions and xdist workers down."""
    for name in ("PYTEST_IPC_TOXIPROXY_URL", "PYTEST_IPC_TOXIPROXY_BACKEND", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "pytest_ipc.plugin", "-p", "xdist.plugin", *args)


@pytest.fixture
def outer_server() -> Iterator[EmbeddedToxiproxy]:
    """A server the outer test owns, handed to the inner session as an "external" one."""
    with EmbeddedToxiproxy() as server:
        yield server


def write_inner_tests(pytester: pytest.Pytester, backend: str) -> None:
    pytester.makepyfile(test_inner=f"EXPECTED_BACKEND = {backend!r}\n" + THROUGH_A_PROXY)


def test_default_backend_is_embedded(pytester: pytest.Pytester) -> None:
    write_inner_tests(pytester, "embedded")

    result = run_inner(pytester)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: this test fails on purpose*"])


@pytest.mark.parametrize("given_by", ["option", "env", "ini"])
def test_external_url_is_used_and_only_our_proxies_are_removed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, outer_server: EmbeddedToxiproxy, given_by: str
) -> None:
    with ToxiproxyClient(outer_server.url) as client:
        bystander = client.create_proxy("bystander", upstream="127.0.0.1:9")
        bystander.latency(0.1)
        write_inner_tests(pytester, "external")
        args = []
        if given_by == "option":
            args.append(f"--ipc-toxiproxy-url={outer_server.url}")
        elif given_by == "env":
            monkeypatch.setenv("PYTEST_IPC_TOXIPROXY_URL", outer_server.url)
        else:
            pytester.makeini(f"[pytest]\nipc_toxiproxy_url = {outer_server.url}\n")

        result = run_inner(pytester, *args)

        result.assert_outcomes(passed=1, failed=1)
        assert list(client.proxies()) == ["bystander"]  # the failing test's proxies are gone too
        assert list(bystander.toxics()) == ["latency_downstream"]


def test_explicit_embedded_backend_wins_over_a_url(pytester: pytest.Pytester) -> None:
    write_inner_tests(pytester, "embedded")
    unreachable = f"http://127.0.0.1:{free_port()}"

    result = run_inner(pytester, f"--ipc-toxiproxy-url={unreachable}", "--ipc-toxiproxy-backend=embedded")

    result.assert_outcomes(passed=1, failed=1)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["--ipc-toxiproxy-backend=kubernetes"],
            {},
            "--ipc-toxiproxy-backend: unknown backend 'kubernetes'; choose one of: auto, external, embedded, container",
        ),
        (
            [],
            {"PYTEST_IPC_TOXIPROXY_BACKEND": "docker-ish"},
            "PYTEST_IPC_TOXIPROXY_BACKEND: unknown backend 'docker-ish'; choose one of: auto, external, embedded, container",
        ),
        (
            ["--ipc-toxiproxy-backend=external"],
            {},
            "--ipc-toxiproxy-backend external needs a URL: give one with --ipc-toxiproxy-url / PYTEST_IPC_TOXIPROXY_URL*",
        ),
        (
            ["--ipc-toxiproxy-url=localhost:8474"],
            {},
            "--ipc-toxiproxy-url: 'localhost:8474' is not a usable URL; expected http://HOST:PORT",
        ),
    ],
    ids=["bad-backend-option", "bad-backend-env", "external-without-url", "malformed-url"],
)
def test_bad_settings_are_usage_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_inner="def test_unused(): pass")

    result = run_inner(pytester, *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])


def test_a_url_where_nothing_answers_is_an_error_not_a_fallback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_uses(toxiproxy): pass")

    result = run_inner(pytester, f"--ipc-toxiproxy-url=http://127.0.0.1:{free_port()}")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the external Toxiproxy at http://127.0.0.1:* (from --ipc-toxiproxy-url) does not answer GET /version*"]
    )


XDIST_TESTS = """
import os
import pytest


@pytest.mark.parametrize("n", range(6))
def test_same_name(toxiproxy, toxiproxy_server, n):
    names = [toxiproxy.create_proxy("127.0.0.1:9").name for _ in range(3)]
    with open(os.path.join(OUT_DIR, os.environ["PYTEST_XDIST_WORKER"]), "a") as out:
        print(toxiproxy_server.url, *names, file=out)
"""


@pytest.mark.slow
@pytest.mark.parametrize("shared", [False, True], ids=["embedded-per-worker", "external-shared"])
def test_xdist_workers_do_not_clash(pytester: pytest.Pytester, outer_server: EmbeddedToxiproxy, shared: bool) -> None:
    out_dir = pytester.mkdir("out")
    inner = f"OUT_DIR = {str(out_dir)!r}\n" + XDIST_TESTS
    pytester.makepyfile(test_first=inner, test_second=inner)  # same test names in two modules
    args = ["-n", "2"]
    if shared:
        args.append(f"--ipc-toxiproxy-url={outer_server.url}")

    result = run_inner(pytester, *args)

    result.assert_outcomes(passed=12)
    assert sorted(path.name for path in out_dir.iterdir()) == ["gw0", "gw1"]
    lines = [line.split() for path in out_dir.iterdir() for line in path.read_text().splitlines()]
    names = [name for line in lines for name in line[1:]]
    assert len(names) == len(set(names)) == 36
    urls_by_worker = {
        path.name: {line.split()[0] for line in path.read_text().splitlines()} for path in out_dir.iterdir()
    }
    if shared:
        assert urls_by_worker == {"gw0": {outer_server.url}, "gw1": {outer_server.url}}
    else:  # one private server per worker
        assert all(len(urls) == 1 for urls in urls_by_worker.values())
        assert urls_by_worker["gw0"] != urls_by_worker["gw1"]
    with ToxiproxyClient(outer_server.url) as client:
        assert client.proxies() == {}
