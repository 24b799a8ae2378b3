"""Load through the fault proxy and the HTTP stub: every byte arrives intact, no descriptor leaks,
the admin API keeps answering. Bounds are generous; `benchmarks/bench_load.py` prints the figures."""

from __future__ import annotations

import statistics

import pytest

from pytest_ipc.stub import HttpStub
from tests.reliability.load import (
    LatencySampler,
    LoadProcess,
    ProxiedEcho,
    ToxicChurn,
    open_fds,
    percentile,
    settled_fds,
)

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

#: The admin API shares the proxies' event loop, so under a 1,000-connection burst with toxics on a
#: busy 2-core box (xdist, other jobs) a call can wait seconds; blocked until the load ends, it fails.
ADMIN_P50_BOUND = 2.0
ADMIN_P99_BOUND = 10.0


def test_a_thousand_streams_survive_toxics_coming_and_going(
    proxied_echo: ProxiedEcho, load_process: LoadProcess
) -> None:
    proxy, client = proxied_echo.proxy, proxied_echo.client
    sampler = LatencySampler(lambda: client.get_proxy(proxy.name))
    with sampler.running(), ToxicChurn(proxy).running() as churn:
        report = load_process.echo_streams(proxy.address, connections=1000, size=64 * 1024)

    assert report.failures == [] and report.mismatches == 0
    assert report.bytes_moved == 2 * 1000 * 64 * 1024
    assert churn.errors == [] and sampler.errors == []
    assert churn.changes_while_busy >= 3, f"toxics never changed while streams ran ({churn})"
    assert len(sampler.samples) >= 5, f"the admin API answered only {len(sampler.samples)} calls during the load"
    assert statistics.median(sampler.samples) < ADMIN_P50_BOUND, sorted(sampler.samples)
    assert percentile(sampler.samples, 0.99) < ADMIN_P99_BOUND, sorted(sampler.samples)[-5:]
    assert proxy.toxics() == {}, "the churn removed every toxic it added"


@pytest.mark.parametrize("connections", [2000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_short_connections_leak_no_descriptors(
    proxied_echo: ProxiedEcho, load_process: LoadProcess, connections: int
) -> None:
    proxy = proxied_echo.proxy
    assert load_process.short_connections(proxy.address, 100).failures == 0  # warm up: lazy imports, pools
    before = settled_fds(open_fds())

    report = load_process.short_connections(proxy.address, connections)

    assert report.failures == 0
    assert settled_fds(before) <= before, f"{open_fds() - before} descriptors more after {connections} connections"
    assert proxy.counters().connections_accepted == connections + 100
    assert proxy.connections() == []


@pytest.mark.parametrize("requests", [10_000])
def test_the_stub_answers_every_request_over_keep_alive(load_process: LoadProcess, requests: int) -> None:
    with HttpStub() as stub:
        ping = stub.expect("GET", "/ping").respond(text="pong")
        before = open_fds()
        report = load_process.http_requests((stub.host, stub.port), "/ping", requests, connections=4)
        assert report.failures == 0
        stub.assert_called(ping, times=requests)
    assert settled_fds(before) <= before
