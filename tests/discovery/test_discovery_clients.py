"""Clients that find a service's instances through DNS (`ipc_dns`): requests and httpx through the
system resolver, aiohttp with its own c-ares resolver, a hand-balanced client on dnspython, grpcio
with a ``dns://`` authority. The correct ones pass, each broken one is caught with its message."""

from __future__ import annotations

import socket

import aiohttp
import httpx
import pytest
import requests

from pytest_ipc import InjectedFault, faults
from pytest_ipc.discovery import DnsServer, aiohttp_resolver, dnspython_resolver
from pytest_ipc.resilience import aio, assert_fallback, assert_reresolves, assert_spread
from pytest_ipc.stub.group import StubGroup, StubGroups
from tests.discovery.clients import Balancer, SyncOrders, dnspython, system


def fresh_connection_get(url: str) -> object:
    """requests with no pooled connection: each call resolves and connects anew, as a short-lived job would."""
    with requests.Session() as session:
        return session.get(url, timeout=2).json()["id"]


def test_requests_spreads_over_round_robin_dns(ipc_dns: DnsServer, named_orders: StubGroup) -> None:
    with ipc_dns.system_resolver():
        assert_spread(named_orders, call=lambda: fresh_connection_get(named_orders.url_for("/order")), calls=12)
        assert_reresolves(named_orders, call=lambda: fresh_connection_get(named_orders.url_for("/order")))


def test_a_pooled_httpx_client_sticks_to_one_instance(ipc_dns: DnsServer, named_orders: StubGroup) -> None:
    with ipc_dns.system_resolver(), httpx.Client() as client:
        with pytest.raises(
            AssertionError,
            match=r"calls not spread over the 3 instances: .* measured 100% at instance \d .* sticks to one instance \(a keep-alive",
        ):
            assert_spread(named_orders, call=lambda: client.get(named_orders.url_for("/order")), calls=12)


def test_balancer_that_honours_the_ttl(ipc_dns: DnsServer, named_orders: StubGroup) -> None:
    lookup = dnspython(dnspython_resolver(ipc_dns), "orders.ipc.test", named_orders.port)
    good = SyncOrders("httpx", Balancer(lookup), host="orders.ipc.test")
    forever = SyncOrders("requests", Balancer(lookup, cache_forever=True), host="orders.ipc.test")
    try:
        assert_spread(named_orders, call=good.order)
        assert assert_reresolves(named_orders, call=good.order)[0] == 0
        with pytest.raises(
            AssertionError,
            match=r"the client caches DNS answers past their TTL: the records of orders.ipc.test changed \(instance 0 "
            r"\(127\.0\.0\.10:\d+\) no longer listed\) and their TTL of 1 s passed, yet 2 of 6 later calls still reached it; "
            r"the DNS server saw 0 quer\(ies\)",
        ):
            assert_reresolves(named_orders, call=forever.order)
    finally:
        good.close()
        forever.close()


def test_nxdomain_without_a_fallback_crashes(http_stub_group: StubGroups, ipc_dns: DnsServer) -> None:
    group = http_stub_group(2, service="orders", ttl=0)  # TTL 0: every call looks the service up again
    group.expect("GET", "/order").respond(json={"id": "o-1"})
    with ipc_dns.system_resolver():
        lookup = system(group.service or "", group.port, ttl=0.0)
        stale_if_error = SyncOrders("requests", Balancer(lookup), host=group.service)
        crashing = SyncOrders("requests", Balancer(lookup, stale_on_error=False), host=group.service)
        try:
            assert stale_if_error.order() == crashing.order() == "o-1"
            with faults.inject(faults.nxdomain(), into=ipc_dns):
                assert_fallback(stale_if_error.order, "o-1")
                crash = r"no fallback: expected 'o-1' during the outage; the call raised socket.gaierror: \[Errno -2\] Name or service not"
                with pytest.raises(AssertionError, match=crash):
                    assert_fallback(crashing.order, "o-1")
        finally:
            stale_if_error.close()
            crashing.close()


@pytest.mark.asyncio
async def test_aiohttp_with_its_own_resolver(ipc_dns: DnsServer, named_orders: StubGroup) -> None:
    url = named_orders.url_for("/order")

    def caller(session: aiohttp.ClientSession) -> object:
        async def call() -> object:
            async with session.get(url) as response:
                return (await response.json())["id"]

        return call

    fresh = aiohttp.TCPConnector(resolver=aiohttp_resolver(ipc_dns), use_dns_cache=False, force_close=True)
    cached = aiohttp.TCPConnector(resolver=aiohttp_resolver(ipc_dns), ttl_dns_cache=None, force_close=True)  # None: cached forever
    async with aiohttp.ClientSession(connector=fresh) as good, aiohttp.ClientSession(connector=cached) as stale:
        # c-ares keeps answers for their TTL and sorts them, so within a TTL every connection goes to the same
        # first address: DNS round-robin does not spread aiohttp's calls (balance in the client for that) ...
        with pytest.raises(AssertionError, match=r"calls not spread over the 3 instances: .* measured \d+% at instance \d"):
            await aio.assert_spread(named_orders, call=caller(good), calls=12)
        await aio.assert_reresolves(named_orders, call=caller(good))  # ... but it does look the name up again after the TTL
        with pytest.raises(AssertionError, match=r"the client caches DNS answers past their TTL: .* the DNS server saw 0 quer\(ies\)"):
            await aio.assert_reresolves(named_orders, call=caller(stale))


@pytest.mark.asyncio
async def test_httpx_async_through_the_system_resolver(ipc_dns: DnsServer, named_orders: StubGroup) -> None:
    with ipc_dns.system_resolver():
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client:  # a new connection per call
            await aio.assert_spread(named_orders, call=lambda: client.get(named_orders.url_for("/order")), calls=12)
            await aio.assert_reresolves(named_orders, call=lambda: client.get(named_orders.url_for("/order")))


DNS_FAULTS = [faults.nxdomain(), faults.servfail(), faults.hang(), faults.latency(0.2), faults.zero_ttl(), faults.records_changed()]


@pytest.mark.fault_matrix(faults=DNS_FAULTS)
def test_fault_matrix_runs_the_dns_faults(ipc_dns: DnsServer, ipc_fault: InjectedFault, ipc_target: str) -> None:
    assert ipc_fault.layer == "dns" and ipc_target == ipc_dns.address
    ipc_dns.register("orders", [("127.0.0.10", 80), ("127.0.0.11", 80)])
    with ipc_dns.system_resolver(lifetime=0.5):
        try:
            found = [info[4][0] for info in socket.getaddrinfo("orders.ipc.test", 80, socket.AF_INET, socket.SOCK_STREAM)]
        except socket.gaierror as error:
            found = [str(error)]
    name = ipc_dns.calls()[0].faults[0]
    expected = {
        "nxdomain": ["[Errno -2] Name or service not known"],
        "servfail": ["[Errno -3] Temporary failure in name resolution"],
        "hang": ["[Errno -3] Temporary failure in name resolution"],
        "records-changed-drop-1": ["127.0.0.11"],
    }.get(name, ["127.0.0.10", "127.0.0.11"])
    assert found == expected


GET = "/shop.v1.Orders/Get"


def test_grpc_resolves_through_the_dns_authority(ipc_dns: DnsServer, http_stub_group: StubGroups) -> None:
    grpc = pytest.importorskip("grpc")
    from pytest_ipc.protobuf import compile_proto
    from pytest_ipc.rpc import GrpcStub
    from tests.rpc.conftest import PROTO  # the suite's shop.v1 schema

    schema = compile_proto(PROTO)
    get_order, order = schema.message_class("shop.v1.GetOrder"), schema.message_class("shop.v1.Order")
    with GrpcStub() as stub:
        stub.serve(schema)
        stub.expect("Orders/Get").respond({"id": "o-1"})
        ipc_dns.add("payments", "A", stub.host)
        channel = grpc.insecure_channel(ipc_dns.grpc_target("payments", stub.port))
        try:
            call = channel.unary_unary(GET, request_serializer=get_order.SerializeToString, response_deserializer=order.FromString)
            assert call(get_order(id="o-1"), timeout=5).id == "o-1"
            assert any(query.name == "payments.ipc.test" for query in ipc_dns.calls())
        finally:
            channel.close()
        with faults.inject(faults.nxdomain(), into=ipc_dns):
            fresh = grpc.insecure_channel(ipc_dns.grpc_target("payments", stub.port))
            try:
                call = fresh.unary_unary(GET, request_serializer=get_order.SerializeToString, response_deserializer=order.FromString)
                with pytest.raises(grpc.RpcError) as caught:
                    call(get_order(id="o-1"), timeout=5)
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "lookup failed for payments.ipc.test" in caught.value.details() and "Domain name not found" in caught.value.details()
            finally:
                fresh.close()

