"""The resilience assertions judge real gRPC clients (sync grpcio and grpc.aio) through the gRPC
stub's journal: a resilient client passes each, a client missing one property fails that one with
a message naming the defect."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from types import ModuleType
from typing import Any

import grpc
import pytest

from pytest_ipc import aio, faults
from pytest_ipc.resilience import (
    assert_breaker,
    assert_deadline_honoured,
    assert_deadline_propagated,
    assert_deadline_set,
    assert_fallback,
    assert_request_cap,
    assert_retries,
    assert_retry_codes,
    assert_retry_jitter,
    assert_timeout_honoured,
    exponential,
    watch_pybreaker,
)
from pytest_ipc.rpc import GrpcStub
from tests.rpc.clients import FALLBACK, NEVER, NONE, AsyncOrderClient, OrderClient, Policy

MakeClient = Callable[..., OrderClient]
DEFAULT = Policy()


@pytest.fixture
def make_client(grpc_stub: GrpcStub, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType) -> Iterator[MakeClient]:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get", request={"id": "o-1"}).respond({"status": "paid"})
    made: list[OrderClient] = []

    def make(policy: Policy = DEFAULT, target: str | None = None) -> OrderClient:
        made.append(OrderClient(target or grpc_stub.target, policy, shop_pb2, shop_pb2_grpc))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_deadline_set_and_honoured(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    outcome = assert_deadline_honoured(make_client().order, grpc_stub, budget=0.3)
    assert outcome.value == FALLBACK
    assert_deadline_set(grpc_stub.calls(), budget=0.3)
    with faults.inject(faults.hang(), into=grpc_stub):  # the HTTP assertion reads the gRPC journal as well
        assert assert_timeout_honoured(make_client().order, budget=0.3, stub=grpc_stub).value == FALLBACK


def test_a_client_without_deadline_is_caught(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    with pytest.raises(
        AssertionError, match=r"no deadline: 1 of 1 call\(s\) arrived without one \(/shop.v1.Orders/Get \(no deadline\).*pass timeout="
    ):
        assert_deadline_honoured(make_client(Policy(deadline=None)).order, grpc_stub, budget=0.3, slack=0.2)
    make_client(Policy(deadline=2.0)).order()
    with pytest.raises(
        AssertionError,
        match=r"deadline too long: expected at most 0\.30 s \(\+0\.05 s slack\), 1 of 1 call\(s\) carried more, up to [12]\.\d\d s",
    ):
        assert_deadline_set(grpc_stub.calls()[-1:], budget=0.3)


def test_retries_only_on_retryable_codes_with_backoff(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    client = make_client(Policy(deadline=2.0, backoff=0.05))
    attempts = assert_retry_codes(client.order, grpc_stub, retries=2, backoff=exponential(0.05), tolerance=0.5)
    assert attempts == {"INVALID_ARGUMENT": 1, "UNAVAILABLE": 3}


def test_a_client_retrying_invalid_argument_is_caught(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    client = make_client(Policy(retry_on=("UNAVAILABLE", "INVALID_ARGUMENT")))
    with pytest.raises(AssertionError, match=r"retries on INVALID_ARGUMENT: expected one attempt \(a retry cannot fix INVALID_ARGUMENT.*"
                       r"the stub saw 3 attempts for one call; retry only on UNAVAILABLE"):  # fmt: skip
        assert_retry_codes(client.order, grpc_stub)
    with pytest.raises(AssertionError, match=r"no retry on UNAVAILABLE: expected the client to retry"):
        assert_retry_codes(make_client(Policy(attempts=1)).order, grpc_stub, not_retryable=())


def service_config(codes: list[str]) -> str:
    retry = {"maxAttempts": 3, "initialBackoff": "0.02s", "maxBackoff": "0.05s", "backoffMultiplier": 2, "retryableStatusCodes": codes}
    return json.dumps({"methodConfig": [{"name": [{"service": "shop.v1.Orders"}], "retryPolicy": retry}]})


@pytest.mark.parametrize("codes", [["UNAVAILABLE"], ["UNAVAILABLE", "INVALID_ARGUMENT"]], ids=["transient", "invalid-argument-too"])
def test_a_service_config_retry_policy_is_judged_alike(
    grpc_stub: GrpcStub, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType, codes: list[str]
) -> None:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    channel = grpc_stub.channel(options=[("grpc.service_config", service_config(codes)), ("grpc.enable_retries", 1)])
    orders = shop_pb2_grpc.OrdersStub(channel)

    def call() -> str:
        try:
            return str(orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=1).status)
        except grpc.RpcError as error:
            return str(error.code().name)

    if codes == ["UNAVAILABLE"]:
        assert assert_retry_codes(call, grpc_stub, retries=2) == {"INVALID_ARGUMENT": 1, "UNAVAILABLE": 3}
        return
    with pytest.raises(AssertionError, match=r"retries on INVALID_ARGUMENT: expected one attempt .* the stub saw 3 attempts"):
        assert_retry_codes(call, grpc_stub)


def test_retries_of_a_fail_first_route(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    route = grpc_stub.expect("Orders/Get", request={"id": "o-2"}).fail_first(2).then_respond({"status": "late"})
    assert make_client(Policy(deadline=2.0, backoff=0.05)).order("o-2") == "late"
    assert_retries(grpc_stub.calls(route), retries=2, backoff=exponential(0.05), tolerance=0.5)
    with pytest.raises(AssertionError, match=r"expected 3 retries \(4 attempts\), the stub saw 3 attempt\(s\) of /shop.v1.Orders/Get"):
        assert_retries(grpc_stub.calls(route), retries=3)


def test_fallback_during_an_outage_through_the_proxy(grpc_stub: GrpcStub, make_client: MakeClient, toxiproxy: Any) -> None:
    proxy = toxiproxy.create_proxy(upstream=f"{grpc_stub.host}:{grpc_stub.port}")
    client = make_client(target=f"{proxy.host}:{proxy.port}")
    assert client.order() == "paid"  # proves the outage below: the client's connections go through the proxy
    with faults.inject(faults.outage(), into=proxy, upstream=grpc_stub):
        assert_fallback(client.order, FALLBACK, within=1.0)
    with (
        faults.inject(faults.grpc_status("UNAVAILABLE"), into=grpc_stub),
        pytest.raises(AssertionError, match=r"(?s)no fallback: expected 'fallback' during the outage; the call raised grpc.*UNAVAILABLE"),
    ):
        assert_fallback(make_client(Policy(fallback=NONE)).order, FALLBACK)


def test_breaker_opens_half_opens_and_closes(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    client = make_client(Policy(attempts=1, cool_down=0.2))
    states = watch_pybreaker(client.breaker)
    assert_breaker(client.order, grpc_stub, threshold=3, cool_down=0.2, fail_fast=0.1, calls_while_open=2, concurrent=3, hold=0.1)
    states.assert_states("open", "half-open", "open", "half-open", "closed")
    with pytest.raises(AssertionError, match=r"breaker did not open after 3 failing calls \(call 4\)"):
        assert_breaker(make_client(Policy(attempts=1, threshold=NEVER)).order, grpc_stub, threshold=3, cool_down=0.2, calls_while_open=1)


def test_request_cap_and_jitter_read_the_grpc_journal(grpc_stub: GrpcStub, make_client: MakeClient) -> None:
    capped = make_client(Policy(deadline=2.0, cap=2, threshold=NEVER))
    assert_request_cap(grpc_stub, 2, call=capped.order, hold=0.15, concurrency=4)
    lockstep = [make_client(Policy(deadline=2.0, attempts=2, backoff=0.1, threshold=NEVER)) for _ in range(6)]
    turns = iter(range(6))
    with pytest.raises(AssertionError, match=r"retries in lockstep: 6 clients failing at once retried together"):
        assert_retry_jitter(lambda: lockstep[next(turns) % 6].order(), grpc_stub, clients=6, window=0.03, most=3)


def forwarder(pb2: ModuleType, pb2_grpc: ModuleType, downstream: Any, propagate: bool) -> Any:
    """A service under test: answers Orders/Get by asking a downstream Orders service."""

    servicer: Any = pb2_grpc.OrdersServicer  # generated, untyped

    class Forwarder(servicer):  # type: ignore[misc]  # an untyped base
        def Get(self, request: Any, context: Any) -> Any:
            timeout = context.time_remaining() if propagate else 5.0
            return pb2.Order(status=downstream.Get(request, timeout=timeout).status)

    return Forwarder()


@pytest.fixture(params=[True, False], ids=["propagates", "own-timeout"])
def service(
    request: pytest.FixtureRequest, grpc_stub: GrpcStub, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType
) -> Iterator[tuple[Any, bool]]:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    downstream = grpc.insecure_channel(grpc_stub.target)
    server = grpc.server(futures.ThreadPoolExecutor(2))
    shop_pb2_grpc.add_OrdersServicer_to_server(
        forwarder(shop_pb2, shop_pb2_grpc, shop_pb2_grpc.OrdersStub(downstream), request.param), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    upstream = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield shop_pb2_grpc.OrdersStub(upstream), request.param
    finally:
        upstream.close()
        server.stop(None).wait()
        downstream.close()


def test_deadline_propagated_to_downstream_calls(grpc_stub: GrpcStub, service: tuple[Any, bool], shop_pb2: ModuleType) -> None:
    orders, propagates = service

    def call() -> str:
        return str(orders.Get(shop_pb2.GetOrder(id="o-1"), timeout=0.5).status)

    if propagates:
        assert assert_deadline_propagated(call, grpc_stub, budget=0.5).value == "paid"
        return
    late = r"deadline not propagated: the downstream call /shop.v1.Orders/Get carried [45]\.\d\d s and expires [34]\.\d\d s after"
    with pytest.raises(AssertionError, match=late + r" the upstream call's deadline .*pass what is left \(context.time_remaining\(\)\)"):
        assert_deadline_propagated(call, grpc_stub, budget=0.5)


@pytest.fixture
async def async_client(
    grpc_stub: GrpcStub, shop_pb2: ModuleType, shop_pb2_grpc: ModuleType
) -> AsyncIterator[Callable[..., AsyncOrderClient]]:
    grpc_stub.serve(shop_pb2_grpc)
    grpc_stub.expect("Orders/Get").respond({"status": "paid"})
    made: list[AsyncOrderClient] = []

    def make(policy: Policy = DEFAULT) -> AsyncOrderClient:
        made.append(AsyncOrderClient(grpc_stub.target, policy, shop_pb2, shop_pb2_grpc))
        return made[-1]

    yield make
    for client in made:
        await client.close()


@pytest.mark.anyio
async def test_async_client_passes_and_its_broken_twins_are_caught(
    grpc_stub: GrpcStub, async_client: Callable[..., AsyncOrderClient]
) -> None:
    good = async_client(Policy(cool_down=0.2))
    assert (await aio.assert_deadline_honoured(good.order, grpc_stub, budget=0.3)).value == FALLBACK
    assert await aio.assert_retry_codes(good.order, grpc_stub) == {"INVALID_ARGUMENT": 1, "UNAVAILABLE": 3}
    with faults.inject(faults.grpc_status("UNAVAILABLE"), into=grpc_stub):
        await aio.assert_fallback(async_client().order, FALLBACK)  # a fresh client: the one above has opened its breaker
    breaker = async_client(Policy(attempts=1, cool_down=0.2))
    await aio.assert_breaker(breaker.order, grpc_stub, threshold=3, cool_down=0.2, calls_while_open=2, concurrent=3, hold=0.1)

    with pytest.raises(AssertionError, match=r"no deadline: 1 of 1 call\(s\) arrived without one"):
        await aio.assert_deadline_honoured(async_client(Policy(deadline=None)).order, grpc_stub, budget=0.3, slack=0.2)
    with pytest.raises(AssertionError, match=r"retries on INVALID_ARGUMENT: expected one attempt"):
        await aio.assert_retry_codes(async_client(Policy(retry_on=("UNAVAILABLE", "INVALID_ARGUMENT"))).order, grpc_stub)
    with (
        faults.inject(faults.grpc_status("UNAVAILABLE"), into=grpc_stub),
        pytest.raises(AssertionError, match=r"no fallback: expected 'fallback'"),
    ):
        await aio.assert_fallback(async_client(Policy(fallback=NONE)).order, FALLBACK)
    with pytest.raises(AssertionError, match=r"breaker did not open after 3 failing calls"):
        await aio.assert_breaker(
            async_client(Policy(attempts=1, threshold=NEVER)).order, grpc_stub, threshold=3, cool_down=0.2, calls_while_open=1
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
