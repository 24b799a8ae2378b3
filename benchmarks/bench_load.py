"""Load figures for the fault proxy and the HTTP stub: `python benchmarks/bench_load.py [--quick]`.

The clients and the echo upstream run in a child process (`tests.reliability.load.LoadProcess`), so
this process holds only what is measured: the embedded fault proxy with its admin API, or the stub.

- streams: N concurrent echo connections through the proxy, each moving SIZE random bytes both ways
  while latency, slicer and bandwidth toxics are added and removed; every stream's sha256 checked;
- fd delta: descriptors this process holds after M short connections through the proxy, minus before;
- admin latency: GET /proxies/<name> p50/p99, idle and during the streams, and how long the churn's
  add/remove calls took (each touches every live connection);
- stub: GET requests over 4 keep-alive connections, requests per second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.reliability.load

from pytest_ipc.client.client import ToxiproxyClient
from pytest_ipc.stub import HttpStub
from pytest_ipc.toxiproxy import EmbeddedToxiproxy
from tests.reliability.load import (
    LatencySampler,
    LoadProcess,
    ToxicChurn,
    admin_latencies,
    open_fds,
    settled_fds,
    summary_ms,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the load, for a smoke check")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    streams, short, requests = 1000 // scale, 10_000 // scale, 10_000 // scale
    size = 64 * 1024

    rows: list[tuple[str, str]] = []
    with LoadProcess() as load:
        with EmbeddedToxiproxy() as server, ToxiproxyClient(server.url, timeout=30.0) as client:
            proxy = client.create_proxy("load", load.upstream)
            idle_p50, idle_p99 = summary_ms(admin_latencies(client, proxy.name, 500))

            sampler = LatencySampler(lambda: client.get_proxy(proxy.name))
            with sampler.running(), ToxicChurn(proxy).running() as churn:
                report = load.echo_streams(proxy.address, streams, size)
            busy_p50, busy_p99 = summary_ms(sampler.samples)
            rows += [
                ("concurrent streams", f"{report.connections}"),
                ("MB moved (both ways)", f"{report.megabytes:.1f} in {report.seconds:.2f} s"),
                ("sha256 mismatches (must be 0)", f"{report.mismatches}"),
                ("failed streams (must be 0)", f"{len(report.failures)}"),
                ("toxic changes while streams ran", f"{churn.changes_while_busy} of {churn.changes}"),
                ("toxic add/remove call p50 / p99", "{:.2f} / {:.2f} ms".format(*summary_ms(churn.durations))),
                ("admin p50 / p99 idle", f"{idle_p50:.2f} / {idle_p99:.2f} ms"),
                ("admin p50 / p99 under load", f"{busy_p50:.2f} / {busy_p99:.2f} ms ({len(sampler.samples)} calls)"),
            ]

            before = settled_fds(open_fds())
            connections = load.short_connections(proxy.address, short)
            delta = settled_fds(before) - before
            rows += [
                ("short connections", f"{connections.connections} ({connections.failures} failed)"),
                ("short connections per second", f"{connections.connections / connections.seconds:.0f}"),
                ("fd delta after them (must be <= 0)", f"{delta}"),
            ]

        with HttpStub() as stub:
            stub.expect("GET", "/ping").respond(text="pong")
            answered = load.http_requests((stub.host, stub.port), "/ping", requests, connections=4)
            rows += [
                ("stub requests (4 keep-alive conns)", f"{answered.requests} ({answered.failures} failed)"),
                ("stub requests per second", f"{answered.per_second:.0f}"),
            ]

    width = max(len(name) for name, _ in rows)
    print(f"{'figure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
