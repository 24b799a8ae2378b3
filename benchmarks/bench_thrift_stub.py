"""pytest-ipc's Thrift stub against thriftpy2's own threaded server, in one run: `python benchmarks/bench_thrift_stub.py`.

Measures, for each server: start time (constructor + start, until it accepts; imports excluded),
first-response time (a fresh thriftpy2 client and one call right after start), sequential calls per
second over one connection (binary protocol, buffered transport: thriftpy2's defaults; the stub also
compact over framed), and for the stub the per-test reset (two routes set up, then the test ended the
way the fixture does: its connections closed, the next test's port opened). Start, first response
and reset are medians; calls per second is the best of alternating rounds, so load from other
processes on a shared machine does not decide the ratio. The baseline answers from a plain handler
(`thriftpy2.rpc.make_server`'s TThreadedServer): the stub's cost is matching routes, journaling and its codecs.
Targets: start <= 50 ms, first response <= 5 ms, per call <= 2x thriftpy2's server, reset <= 5 ms.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import thriftpy2
from thriftpy2.protocol import TCompactProtocolFactory
from thriftpy2.rpc import make_client
from thriftpy2.server import TThreadedServer
from thriftpy2.thrift import TProcessor
from thriftpy2.transport import TFramedTransportFactory, TServerSocket

from pytest_ipc.rpc.thrift import ThriftStub

HOST = "127.0.0.1"
IDL = Path(__file__).resolve().parent.parent / "tests" / "rpc" / "inventory.thrift"
inventory: Any = thriftpy2.load(str(IDL), module_name="inventory_thrift")
ITEM = inventory.Item(sku="A-1", name="widget", tags=["blue"])


class Contender(Protocol):
    name: str

    def start(self) -> int: ...  # returns the port

    def stop(self) -> None: ...


class Stub:
    name = "pytest-ipc thrift_stub"

    def __init__(self, protocol: str = "binary", transport: str = "buffered") -> None:
        self.wire = (protocol, transport)

    def start(self) -> int:
        self.stub = ThriftStub(HOST, protocol=self.wire[0], transport=self.wire[1]).start()
        self.stub.begin_test("bench")
        self.routes()
        return self.stub.port

    def routes(self) -> None:
        self.stub.serve(IDL, protocol=self.wire[0], transport=self.wire[1])
        self.stub.expect("get_item", request={"sku": "A-1"}).respond(ITEM)
        self.stub.expect("ping").respond(True)

    def reset(self) -> None:
        self.stub.end_test()  # closes the test's connections, opens the next test's port
        self.stub.begin_test("bench")

    def stop(self) -> None:
        self.stub.stop()


class Handler:
    def get_item(self, sku: str) -> Any:
        return ITEM

    def ping(self) -> bool:
        return True


class Thriftpy2Server:
    name = "thriftpy2 TThreadedServer"

    def start(self) -> int:
        # make_server's server, but on port 0 (make_server refuses it: the kernel picks the port) and with no
        # idle timeout (its 3 s default closes the connection while the other contenders are measured)
        listener = TServerSocket(HOST, 0, client_timeout=None)
        self.server = TThreadedServer(TProcessor(inventory.Inventory, Handler()), listener, daemon=True)
        self.server.trans.listen()
        self.server.trans.listen = lambda: None  # serve() listens again otherwise
        port = int(self.server.trans.sock.getsockname()[1])
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()
        self.port = port
        return port

    def stop(self) -> None:
        self.server.close()
        socket.create_connection((HOST, self.port)).close()  # wakes its blocking accept()
        self.thread.join(5)
        self.server.trans.close()


def call(client: Any) -> None:
    if client.get_item("A-1").name != "widget":
        raise RuntimeError("wrong answer")


def client_of(port: int, framed: bool = False) -> Any:
    extra: dict[str, Any] = {"proto_factory": TCompactProtocolFactory(), "trans_factory": TFramedTransportFactory()} if framed else {}
    return make_client(inventory.Inventory, HOST, port, timeout=10_000, **extra)


def measure_start(contender: Contender, rounds: int) -> tuple[float, float]:
    """Median start and first-response times (ms) over `rounds` fresh servers."""
    starts, firsts = [], []
    for _ in range(rounds):
        began = time.perf_counter()
        port = contender.start()
        starts.append(time.perf_counter() - began)
        began = time.perf_counter()
        client = client_of(port)
        call(client)
        firsts.append(time.perf_counter() - began)
        client.close()
        contender.stop()
    return statistics.median(starts) * 1000, statistics.median(firsts) * 1000


def measure_rates(contenders: list[tuple[Contender, bool]], rounds: int, calls: int) -> list[float]:
    """Calls per second for each (contender, framed compact client): the best of `rounds` alternating samples."""
    clients = []
    for contender, framed in contenders:
        client = client_of(contender.start(), framed)
        try:
            for _ in range(50):  # warm up both sides
                call(client)
        except Exception as error:
            raise RuntimeError(f"{contender.name} failed while warming up: {error!r}") from error
        clients.append(client)
    best = [0.0] * len(contenders)
    try:
        for _ in range(rounds):
            for index, client in enumerate(clients):
                began = time.perf_counter()
                for _ in range(calls):
                    call(client)
                best[index] = max(best[index], calls / (time.perf_counter() - began))
    finally:
        for (contender, _), client in zip(contenders, clients, strict=True):
            client.close()
            contender.stop()
    return best


def measure_reset(stub: Stub, rounds: int) -> float:
    """Median cost (ms) of ending a test that used the stub (one connection, two routes) and beginning the next."""
    stub.start()
    samples = []
    try:
        for _ in range(rounds):
            client = client_of(stub.stub.port)
            call(client)
            client.close()
            began = time.perf_counter()
            stub.reset()
            samples.append(time.perf_counter() - began)
            stub.routes()
    finally:
        stub.stop()
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="start/stop rounds per server")
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls per rate sample")
    parser.add_argument("--rate-rounds", type=int, default=7, help="alternating rate samples per server (best kept)")
    args = parser.parse_args()
    ours, theirs = Stub(), Thriftpy2Server()
    (our_start, our_first), (their_start, their_first) = measure_start(ours, args.rounds), measure_start(theirs, args.rounds)
    contenders: list[tuple[Contender, bool]] = [(ours, False), (theirs, False), (Stub("compact", "framed"), True)]
    our_rate, their_rate, compact_rate = measure_rates(contenders, args.rate_rounds, args.calls)
    reset = measure_reset(Stub(), args.rounds * 4)
    header = f"{'metric':<32}{'pytest-ipc':>12}{'thriftpy2':>12}{'ratio':>8}  target"
    rows = [
        ("start (ms)", our_start, their_start, "<= 50 ms"),
        ("first response (ms)", our_first, their_first, "<= 5 ms"),
        ("calls/s (binary, buffered)", our_rate, their_rate, ""),
        ("per call (us, binary, buffered)", 1e6 / our_rate, 1e6 / their_rate, "<= 2x thriftpy2"),
    ]
    print(header)
    print("-" * len(header))
    for label, mine, other, target in rows:
        print(f"{label:<32}{mine:>12.2f}{other:>12.2f}{mine / other:>8.2f}  {target}")
    print(f"{'per call (us, compact, framed)':<32}{1e6 / compact_rate:>12.2f}{'':>12}{'':>8}")
    print(f"{'per-test reset (ms)':<32}{reset:>12.2f}{'':>12}{'':>8}  <= 5 ms")
    verdicts = {
        "start <= 50 ms": our_start <= 50,
        "first response <= 5 ms": our_first <= 5,
        "per call <= 2x thriftpy2's server": 1e6 / our_rate <= 2 * 1e6 / their_rate,
        "per-test reset <= 5 ms": reset <= 5,
    }
    print()
    for target, met in verdicts.items():
        print(f"{'PASS' if met else 'FAIL':>5}  {target}")


if __name__ == "__main__":
    main()
