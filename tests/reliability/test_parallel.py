"""Under pytest-xdist, session resources are per worker (embedded servers) or shared safely (an
external Toxiproxy): the fixture module documents which; these sessions check it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from pytest_ipc.client.client import ToxiproxyClient
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

INNER_TESTS = """
import json, os, pathlib
import httpx, pytest

@pytest.mark.parametrize("n", range(12))
def test_uses_session_resources(toxiproxy_server, toxiproxy, http_stub, n):
    http_stub.expect("GET", "/n").respond(text=str(n))
    proxy = toxiproxy.create_proxy(upstream=(http_stub.host, http_stub.port))
    proxy.latency(0.001)
    assert httpx.get(proxy.url + "/n").text == str(n)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    record = {
        "worker": worker,
        "api": toxiproxy_server.url,
        "stub": f"{os.getpid()}:{id(http_stub)}",
        "stub_url": http_stub.url,
        "proxy": proxy.name,
    }
    pathlib.Path(os.environ["IPC_RECORDS"], f"{worker}-{n}.json").write_text(json.dumps(record))
"""


def run_workers(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> list[dict[str, str]]:
    records = pytester.path / "records"
    records.mkdir()
    monkeypatch.setenv("IPC_RECORDS", str(records))
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=12)
    return [json.loads(path.read_text()) for path in sorted(Path(records).iterdir())]


def by_worker(records: list[dict[str, str]], key: str) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for record in records:
        seen[record["worker"]].add(record[key])
    return seen


@pytest.mark.slow
def test_embedded_servers_are_per_worker(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    records = run_workers(pytester, monkeypatch)
    apis, stubs = by_worker(records, "api"), by_worker(records, "stub")
    assert len(apis) == 2, "the tests spread over both workers"
    assert all(len(urls) == 1 for urls in [*apis.values(), *stubs.values()]), "one server per worker for the session"
    assert len({url for urls in apis.values() for url in urls}) == len(apis), "no two workers share a fault proxy"
    assert len({url for urls in stubs.values() for url in urls}) == len(stubs), "no two workers share a stub"
    assert len({record["stub_url"] for record in records}) == len(records), "each test has a stub port of its own"


@pytest.mark.slow
def test_an_external_server_is_shared_without_clashes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedToxiproxy() as shared, ToxiproxyClient(shared.url) as client:
        records = run_workers(pytester, monkeypatch, f"--ipc-toxiproxy-url={shared.url}")
        assert {record["api"].rstrip("/") for record in records} == {shared.url}
        assert len({record["proxy"] for record in records}) == len(records), "proxy names are unique across workers"
        assert client.proxies() == {}, "every worker deleted what it created, nothing else"
