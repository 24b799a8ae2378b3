"""pytest-ipc's gRPC stub against a bare grpcio server with the same method, in one run:
`python benchmarks/bench_grpc_stub.py`.

Measures the stub's start (constructor, the `.proto` already compiled, until a first call is
answered: median of fresh stubs) and the per-call overhead of sync unary calls over loopback, the
stub (`serve`, one route, the journal) against a bare `grpc.server` whose handler answers the same
`shop.v1.Orders/Get` with a ready message, on the same number of worker threads. Calls alternate
between the two in rounds, and the best round of each is kept, so load from other processes on a
shared machine does not decide the ratio. Targets from the issue: start <= 100 ms, per call <= 1.3x
the bare server.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from pytest_ipc.protobuf import compile_proto
from pytest_ipc.rpc.grpc_server import GrpcStub

PROTO = Path(__file__).resolve().parent.parent / "tests" / "rpc" / "protos" / "shop.proto"
METHOD = "/shop.v1.Orders/Get"
START_TARGET_MS = 100.0
RATIO_TARGET = 1.3
WORKERS = 8


def bare_server(schema: Any) -> tuple[Any, int]:
    """grpcio alone: one unary method answering a ready message."""
    order = schema.message_class("shop.v1.Order")(id="o-1", qty=2, status="paid")
    request = schema.message_class("shop.v1.GetOrder")
    handler = grpc.unary_unary_rpc_method_handler(
        lambda message, context: order, request_deserializer=request.FromString, response_serializer=type(order).SerializeToString
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(WORKERS), handlers=[grpc.method_handlers_generic_handler("shop.v1.Orders", {"Get": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def stub_server(schema: Any) -> GrpcStub:
    stub = GrpcStub(max_workers=WORKERS).start()
    stub.begin_test("bench")
    stub.serve(schema)
    stub.expect("Orders/Get").respond({"id": "o-1", "qty": 2, "status": "paid"})
    return stub


def caller(port: int, schema: Any) -> tuple[Any, Any, Any]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    request = schema.message_class("shop.v1.GetOrder")
    call = channel.unary_unary(
        METHOD, request_serializer=request.SerializeToString, response_deserializer=schema.message_class("shop.v1.Order").FromString
    )
    return channel, call, request(id="o-1")


def measure_start(schema: Any, rounds: int) -> float:
    """Median ms from constructing a stub to its first answered call."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        stub = stub_server(schema)
        channel, call, request = caller(stub.port, schema)
        call(request, timeout=5)
        samples.append(time.perf_counter() - began)
        channel.close()
        stub.stop()
    return statistics.median(samples) * 1000


def measure_calls(schema: Any, rounds: int, calls: int) -> tuple[float, float]:
    """Best per-call microseconds (stub, bare) over alternating rounds of `calls` sync unary calls."""
    stub = stub_server(schema)
    bare, bare_port = bare_server(schema)
    callers = [caller(stub.port, schema), caller(bare_port, schema)]
    best = [float("inf"), float("inf")]
    try:
        for _channel, call, request in callers:
            for _ in range(200):  # warm up both sides
                call(request, timeout=5)
        for _ in range(rounds):
            stub.reset()  # each round is one test's worth of calls; the journal starts empty
            stub.serve(schema)
            stub.expect("Orders/Get").respond({"id": "o-1", "qty": 2, "status": "paid"})
            for index, (_channel, call, request) in enumerate(callers):
                began = time.perf_counter()
                for _ in range(calls):
                    call(request, timeout=5)
                best[index] = min(best[index], (time.perf_counter() - began) / calls * 1e6)
    finally:
        for channel, _call, _request in callers:
            channel.close()
        stub.stop()
        bare.stop(None).wait()
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="fresh stubs started for the start time")
    parser.add_argument("--calls", type=int, default=500, help="sequential calls per round")
    parser.add_argument("--call-rounds", type=int, default=21, help="alternating rounds per server (best kept)")
    args = parser.parse_args()
    schema = compile_proto(PROTO)
    start_ms = measure_start(schema, args.rounds)
    ours, theirs = measure_calls(schema, args.call_rounds, args.calls)
    ratio = ours / theirs
    print(f"{'metric':<28}{'gRPC stub':>12}{'bare grpcio':>14}{'ratio':>8}  target")
    print(f"{'start to first answer (ms)':<28}{start_ms:>12.1f}{'':>14}{'':>8}  <= {START_TARGET_MS:.0f} ms")
    print(f"{'sync unary call (us)':<28}{ours:>12.0f}{theirs:>14.0f}{ratio:>8.2f}  <= {RATIO_TARGET}x")
    start_ok, ratio_ok = start_ms <= START_TARGET_MS, ratio <= RATIO_TARGET
    print(f"start: {'PASS' if start_ok else 'FAIL'}; per-call overhead: {'PASS' if ratio_ok else 'FAIL'}")
    print("PASS" if start_ok and ratio_ok else "FAIL")


if __name__ == "__main__":
    main()
