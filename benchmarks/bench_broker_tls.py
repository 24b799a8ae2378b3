"""What a TLS listener adds to a private broker's start: each local broker started with and without
one (``--ipc-<kind>-tls mutual``), alternately, in the same run; the baseline is the plain start.

    python benchmarks/bench_broker_tls.py [--rounds N] [--kinds redis,nats,mqtt,rabbitmq]

The CA (trustme) is made once, as the session's ``ipc_tls_ca`` is; its set-up is printed apart.
Target: the listener adds at most 20 % (or 0.1 s, whichever is larger) to the median start.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pytest_ipc.brokers.endpoint import BrokerKind
from pytest_ipc.brokers.kinds import KINDS
from pytest_ipc.brokers.tls import ListenerTls

RATIO_TARGET = 1.20
ABSOLUTE_SLACK = 0.1


def start_stop(kind: BrokerKind, tls: ListenerTls | None) -> float:
    """Seconds until the broker served (both listeners, when it has two)."""
    broker = KINDS[kind].local(tls)
    started = time.perf_counter()
    broker.start()
    elapsed = time.perf_counter() - started
    broker.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kinds", default="redis,nats,mqtt")
    arguments = parser.parse_args()

    started = time.perf_counter()
    from pytest_ipc.tls.ca import CertificateAuthority

    with CertificateAuthority() as authority:
        listener = ListenerTls.issue(authority, mutual=True)
        print(f"session CA with server and client certificates: {(time.perf_counter() - started) * 1000:.0f} ms (once per session)")
        failed = False
        for kind in arguments.kinds.split(","):
            local_kind: BrokerKind = kind  # type: ignore[assignment]
            if (reason := KINDS[local_kind].local(None).missing_reason()) is not None:
                print(f"{kind:9} skipped: {reason}")
                continue
            plain, tls = [], []
            for _ in range(arguments.rounds):
                plain.append(start_stop(local_kind, None))
                tls.append(start_stop(local_kind, listener))
            base, with_tls = statistics.median(plain), statistics.median(tls)
            ok = with_tls <= max(base * RATIO_TARGET, base + ABSOLUTE_SLACK)
            failed |= not ok
            print(
                f"{kind:9} start plain {base:6.3f} s  with TLS {with_tls:6.3f} s  ratio {with_tls / base:5.2f}"
                f"  target <= {RATIO_TARGET:.2f} or +{ABSOLUTE_SLACK} s  {'PASS' if ok else 'FAIL'}"
            )
    print("FAIL" if failed else "PASS")


if __name__ == "__main__":
    main()
