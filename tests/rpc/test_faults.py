"""gRPC faults in the one vocabulary: statuses by name (pushback honoured by grpcio's own retry
policy), latency, hang, a stream aborted midway, connection reset and outage through the fault proxy
(HTTP/2 connections), and a gRPC fault that never fired failing its block."""

from __future__ import annotations

import json
import time
from types import ModuleType

import grpc
import pytest

from pytest_ipc import faults
from pytest_ipc.client import ScopedToxiproxy
from pytest_ipc.rpc import GrpcStub


@pytest.fixture
def orders(grpc_stub: GrpcStub, shop_pb2_grpc: ModuleType) -> object:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    return shop_pb2_grpc.OrdersStub(grpc_stub.channel())


@pytest.mark.parametrize("code", ["UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNAUTHENTICATED", "data_loss"])
def test_any_status_by_name(grpc_stub: GrpcStub, orders: object, shop_pb2: ModuleType, code: str) -> None:
    with faults.inject(faults.grpc_status(code, details="injected"), into=grpc_stub) as active, pytest.raises(grpc.RpcError) as caught:
        orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=2)  # type: ignore[attr-defined]
    assert caught.value.code().name == code.upper() and caught.value.details() == "injected"
    assert active.activations() == 1


def test_http_status_means_its_grpc_code_and_retry_after_the_pushback(grpc_stub: GrpcStub, orders: object, shop_pb2: ModuleType) -> None:
    with faults.inject(faults.status(503, retry_after=1), into=grpc_stub), pytest.raises(grpc.RpcError) as caught:
        orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=2)  # type: ignore[attr-defined]
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert ("grpc-retry-pushback-ms", "1000") in caught.value.trailing_metadata()


def test_resource_exhausted_pushback_is_honoured_by_a_service_config_retry_policy(
    grpc_stub: GrpcStub, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType
) -> None:
    grpc_stub.serve(shop_pb2_grpc)
    route = grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    policy = {"methodConfig": [{"name": [{"service": "shop.v1.Orders"}], "retryPolicy": {
        "maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.02s", "backoffMultiplier": 2,
        "retryableStatusCodes": ["RESOURCE_EXHAUSTED"]}}]}  # fmt: skip
    channel = grpc_stub.channel(options=[("grpc.service_config", json.dumps(policy)), ("grpc.enable_retries", 1)])
    with faults.inject(faults.grpc_status("RESOURCE_EXHAUSTED", pushback=0.2, times=1), into=grpc_stub):
        assert shop_pb2_grpc.OrdersStub(channel).Get(shop_pb2.GetOrder(id="o-1"), timeout=3).status == "paid"
    first, second = grpc_stub.calls(route)
    assert first.code == "RESOURCE_EXHAUSTED" and first.faults == ["status-resource-exhausted-pushback-200ms-1x"]
    assert first.ended is not None and 0.18 <= second.started - first.ended < 1.0  # the pushback, not the 10 ms backoff


def test_latency_and_hang_hold_the_call(grpc_stub: GrpcStub, orders: object, shop_pb2: ModuleType) -> None:
    with faults.inject(faults.latency(0.15), into=grpc_stub):
        started = time.monotonic()
        assert orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=2).status == "paid"  # type: ignore[attr-defined]
        assert time.monotonic() - started >= 0.15
    with faults.inject(faults.hang(), into=grpc_stub), pytest.raises(grpc.RpcError) as caught:
        orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=0.2)  # type: ignore[attr-defined]
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    hung = grpc_stub.calls()[-1]
    deadline = time.monotonic() + 2
    while hung.ended is None and time.monotonic() < deadline:  # the server learns of the expiry just after the client
        time.sleep(0.005)
    assert hung.cancelled and hung.code is None and hung.faults == ["hang"] and hung.ended is not None


def test_a_hang_ends_with_the_test(grpc_stub: GrpcStub, orders: object, shop_pb2: ModuleType) -> None:
    grpc_stub.inject(faults.hang())
    future = orders.Get.future(shop_pb2.GetOrder(id="o-1"))  # type: ignore[attr-defined]  # no deadline: held until released
    deadline = time.monotonic() + 2
    while not grpc_stub.calls() and time.monotonic() < deadline:
        time.sleep(0.005)
    grpc_stub.reset()  # what the fixture does at the end of the test
    assert future.exception(timeout=2).code() == grpc.StatusCode.CANCELLED


def test_abort_mid_stream(grpc_stub: GrpcStub, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType) -> None:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Watch").respond(messages=[{"event": str(n)} for n in range(5)])
    watch = shop_pb2_grpc.OrdersStub(grpc_stub.channel()).Watch
    received: list[str] = []
    with faults.inject(faults.abort_stream(after=3, code="INTERNAL"), into=grpc_stub), pytest.raises(grpc.RpcError) as caught:
        for event in watch(shop_pb2.GetOrder(id="o-1"), timeout=2):
            received.append(event.event)
    assert received == ["0", "1", "2"] and caught.value.code() == grpc.StatusCode.INTERNAL


def test_a_grpc_fault_that_never_fired_fails_the_block(grpc_stub: GrpcStub, orders: object) -> None:
    never = r"status-unavailable was injected at the grpc layer and never fired.*the grpc stub saw no call during the block"
    with pytest.raises(faults.FaultNeverFired, match=never + r": did the client call its target \(here 127\.0\.0\.1:\d+\)"):
        with faults.inject(faults.grpc_status("UNAVAILABLE"), into=grpc_stub):
            pass  # the client calls somewhere else, or not at all
    route = grpc_stub.routes[0].inject(faults.latency(0.01, probability=0.0))
    assert route.faults[0].trigger.fired == 0


@pytest.mark.parametrize("fault", [faults.reset(), faults.outage()], ids=["reset", "outage"])
def test_reset_and_outage_through_the_proxy_cut_http2(
    grpc_stub: GrpcStub, toxiproxy: ScopedToxiproxy, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType, fault: faults.Fault
) -> None:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    proxy = toxiproxy.create_proxy(upstream=f"{grpc_stub.host}:{grpc_stub.port}")
    options = [("grpc.initial_reconnect_backoff_ms", 20), ("grpc.min_reconnect_backoff_ms", 20), ("grpc.max_reconnect_backoff_ms", 50)]
    with grpc.insecure_channel(f"{proxy.host}:{proxy.port}", options=options) as channel:
        orders = shop_pb2_grpc.OrdersStub(channel)
        assert orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=2).status == "paid"  # a live HTTP/2 connection first
        with faults.inject(fault, into=proxy, upstream=grpc_stub), pytest.raises(grpc.RpcError) as caught:
            orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        deadline = time.monotonic() + 3
        while True:  # healed: the channel reconnects (its reconnect backoff is short)
            try:
                assert orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=1).status == "paid"
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "the channel did not recover after the fault healed"
                time.sleep(0.02)
