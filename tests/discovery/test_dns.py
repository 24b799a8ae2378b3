"""The DNS server with real resolvers: dnspython, c-ares (aiodns, aiohttp's AsyncResolver) and the
system resolver path requests and httpx take; each DNS fault is seen as a production server's."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import aiodns
import aiodns.error
import dns.exception
import dns.message
import dns.query
import dns.resolver
import httpx
import pytest
import requests

from pytest_ipc import faults
from pytest_ipc.discovery import DnsServer, DnsUsageError, dnspython_resolver

ADDRESSES = [("127.0.0.10", 8080), ("127.0.0.11", 8080), ("127.0.0.12", 8080)]


@pytest.fixture
def orders(ipc_dns: DnsServer) -> str:
    return ipc_dns.register("orders", ADDRESSES, ttl=5)


def resolve(ipc_dns: DnsServer, name: str = "orders.ipc.test", rdtype: str = "A", lifetime: float = 0.5) -> dns.resolver.Answer:
    return dnspython_resolver(ipc_dns, lifetime=lifetime).resolve(name, rdtype, search=False)


def c_ares(ipc_dns: DnsServer, name: str = "orders.ipc.test", rdtype: str = "A") -> object:
    async def query() -> object:
        resolver = aiodns.DNSResolver(nameservers=[ipc_dns.address], timeout=0.3, tries=1)
        try:
            return await resolver.query_dns(name, rdtype)
        finally:
            await resolver.close()

    return asyncio.run(query())


def test_answers_a_aaaa_and_srv_over_udp_and_tcp(ipc_dns: DnsServer, orders: str) -> None:
    assert orders == "orders.ipc.test"
    answer = resolve(ipc_dns)
    assert sorted(record.address for record in answer) == ["127.0.0.10", "127.0.0.11", "127.0.0.12"] and answer.rrset.ttl == 5
    srv = resolve(ipc_dns, "_http._tcp.orders.ipc.test", "SRV")
    assert sorted((record.port, record.target.to_text()) for record in srv) == [(8080, f"{i}.orders.ipc.test.") for i in range(3)]
    assert resolve(ipc_dns, "1.orders.ipc.test")[0].address == "127.0.0.11"
    ipc_dns.add("v6", "AAAA", "::1")
    assert resolve(ipc_dns, "v6.ipc.test", "AAAA")[0].address == "::1"
    with pytest.raises(dns.resolver.NoAnswer):  # the name exists, without an A record (NODATA)
        resolve(ipc_dns, "v6.ipc.test", "A")
    over_tcp = dns.query.tcp(dns.message.make_query("orders.ipc.test", "A"), ipc_dns.nameserver, port=ipc_dns.port, timeout=1)
    assert len(over_tcp.answer[0]) == 3
    records = c_ares(ipc_dns)
    assert sorted(record.data.addr for record in records.answer) == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]  # type: ignore[attr-defined]
    assert [query.transport for query in ipc_dns.queries("orders", "A")] == ["udp", "tcp", "udp"]


def test_answers_rotate_like_round_robin_dns(ipc_dns: DnsServer, orders: str) -> None:
    with ipc_dns.system_resolver():
        firsts = [socket.getaddrinfo("orders.ipc.test", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0] for _ in range(3)]
    assert firsts == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert [query.answers[0] for query in ipc_dns.calls()] == firsts


def test_unknown_names_and_foreign_zones(ipc_dns: DnsServer, orders: str) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve(ipc_dns, "payments.ipc.test")
    with pytest.raises(dns.resolver.NoNameservers, match="REFUSED"):
        resolve(ipc_dns, "example.com")
    report = ipc_dns.problems_report()
    assert report is not None and "1 query(ies) for names outside its zone ipc.test (answered REFUSED)" in report
    ipc_dns.allow_unmatched()


def test_nxdomain_as_each_resolver_sees_it(ipc_dns: DnsServer, orders: str) -> None:
    with faults.inject(faults.nxdomain(), into=ipc_dns) as fault:
        with pytest.raises(dns.resolver.NXDOMAIN, match=r"does not exist: orders\.ipc\.test"):
            resolve(ipc_dns)
        with pytest.raises(aiodns.error.DNSError) as caught:
            c_ares(ipc_dns)
        assert caught.value.args[0] == aiodns.error.ARES_ENOTFOUND
        with ipc_dns.system_resolver():
            with pytest.raises(socket.gaierror) as gai:
                socket.getaddrinfo("orders.ipc.test", 80)
            assert gai.value.errno == socket.EAI_NONAME and gai.value.strerror == "Name or service not known"
            with pytest.raises(requests.ConnectionError, match="Name or service not known"):
                requests.get("http://orders.ipc.test:8080/order", timeout=1)
            with pytest.raises(httpx.ConnectError, match="Name or service not known"):
                httpx.get("http://orders.ipc.test:8080/order")
    assert fault.activations() == 5
    assert {query.rcode for query in ipc_dns.calls()} == {"NXDOMAIN"}


def test_servfail_as_each_resolver_sees_it(ipc_dns: DnsServer, orders: str) -> None:
    with faults.inject(faults.servfail(), into=ipc_dns):
        with pytest.raises(dns.resolver.NoNameservers, match="SERVFAIL"):
            resolve(ipc_dns)
        with pytest.raises(aiodns.error.DNSError) as caught:
            c_ares(ipc_dns)
        assert caught.value.args[0] == aiodns.error.ARES_ESERVFAIL
        with ipc_dns.system_resolver(), pytest.raises(socket.gaierror) as gai:
            socket.getaddrinfo("orders.ipc.test", 80, socket.AF_INET)
        assert gai.value.errno == socket.EAI_AGAIN and gai.value.strerror == "Temporary failure in name resolution"


def test_timeout_and_slow_answers(ipc_dns: DnsServer, orders: str) -> None:
    with faults.inject(faults.hang(), into=ipc_dns):
        started = time.monotonic()
        with pytest.raises(dns.resolver.LifetimeTimeout):
            resolve(ipc_dns, lifetime=0.3)
        assert 0.3 <= time.monotonic() - started < 1.0
        with pytest.raises(aiodns.error.DNSError) as caught:
            c_ares(ipc_dns)
        assert caught.value.args[0] == aiodns.error.ARES_ETIMEOUT
        with ipc_dns.system_resolver(lifetime=0.3), pytest.raises(socket.gaierror) as gai:
            socket.getaddrinfo("orders.ipc.test", 80, socket.AF_INET)
        assert gai.value.errno == socket.EAI_AGAIN
    assert {query.rcode for query in ipc_dns.calls()} == {None}  # never answered
    with faults.inject(faults.latency(0.2), into=ipc_dns):
        started = time.monotonic()
        resolve(ipc_dns)
        assert time.monotonic() - started >= 0.2


def test_ttl_zero_and_records_changed(ipc_dns: DnsServer, orders: str) -> None:
    with faults.inject(faults.zero_ttl(), into=ipc_dns):
        assert resolve(ipc_dns).rrset.ttl == 0
        assert c_ares(ipc_dns).answer[0].ttl == 0  # type: ignore[attr-defined]
    with faults.inject(faults.records_changed(drop=2), into=ipc_dns):
        assert [record.address for record in resolve(ipc_dns)] == ["127.0.0.12"]
        assert [record.port for record in resolve(ipc_dns, "_http._tcp.orders.ipc.test", "SRV")] == [8080]
    ipc_dns.set_records("orders", "A", ["127.0.0.20"])  # records changed by the test itself
    assert [record.address for record in resolve(ipc_dns)] == ["127.0.0.20"]
    ipc_dns.remove("orders")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve(ipc_dns)


def test_a_fault_nobody_resolved_through_never_fired(ipc_dns: DnsServer, orders: str) -> None:
    with pytest.raises(faults.FaultNeverFired, match=r"nxdomain was injected at the dns layer and never fired.*saw no query during"):
        with faults.inject(faults.nxdomain(), into=ipc_dns):
            pass
    with pytest.raises(faults.FaultNotSupported, match=r"status-503 cannot be injected at the dns layer"):
        ipc_dns.inject(faults.status(503))
    with pytest.raises(faults.FaultNotSupported, match=r"nxdomain cannot be injected at the stub layer .*; layers that can: dns"):
        faults.check_supported(faults.nxdomain(), "stub")


def test_system_resolver_leaves_other_names_alone(ipc_dns: DnsServer, orders: str) -> None:
    original = socket.getaddrinfo
    with ipc_dns.system_resolver():
        assert socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4][0] == "127.0.0.1"
        assert {info[4] for info in socket.getaddrinfo("orders.ipc.test", "8080", socket.AF_INET, socket.SOCK_STREAM)} == set(ADDRESSES)
    assert socket.getaddrinfo is original
    assert len(ipc_dns.calls()) == 1  # localhost never reached the test's server


def test_bad_records_are_usage_errors(ipc_dns: DnsServer) -> None:
    with pytest.raises(DnsUsageError, match="an A record holds an IP address, got 'nope'"):
        ipc_dns.add("x", "A", "nope")
    with pytest.raises(DnsUsageError, match="'::1' is an AAAA address, not A"):
        ipc_dns.add("x", "A", "::1")
    with pytest.raises(DnsUsageError, match="unknown record type 'MX'; the DNS server serves: A, AAAA, SRV"):
        ipc_dns.add("x", "MX", "10 mail")
    with pytest.raises(DnsUsageError, match="a TTL is whole seconds"):
        ipc_dns.add("x", "A", "127.0.0.1", ttl=0.5)  # type: ignore[arg-type]
    with pytest.raises(faults.FaultUsageError, match="records_changed: drop"):
        faults.records_changed(drop=0)


def test_nothing_leaks() -> None:
    before = {thread.name for thread in threading.enumerate()}
    with DnsServer() as server:
        port = server.port
        server.add("a", "A", "127.0.0.1")
        with faults.inject(faults.hang(), into=server):  # a held answer is cancelled at stop
            with pytest.raises(dns.resolver.LifetimeTimeout):
                dnspython_resolver(server, lifetime=0.2).resolve("a.ipc.test", "A")
    assert {thread.name for thread in threading.enumerate()} <= before
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):  # both sockets are closed: the port binds again
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_late_query_never_gets_the_next_tests_records() -> None:
    """Each test is served on a port of its own: a client still resolving after its test ended is
    refused by the closed port, not answered from the records of the test that runs next."""
    with DnsServer() as server:
        server.begin_test("test_one")
        server.add("orders", "A", "127.0.0.11")
        first_port = server.port
        server.end_test()
        server.begin_test("test_two")
        server.add("orders", "A", "127.0.0.99")
        assert server.port != first_port
        with pytest.raises((ConnectionRefusedError, dns.exception.Timeout)):
            dns.query.udp(dns.message.make_query("orders.ipc.test", "A"), server.nameserver, port=first_port, timeout=0.5)
        with pytest.raises(ConnectionRefusedError):
            dns.query.tcp(dns.message.make_query("orders.ipc.test", "A"), server.nameserver, port=first_port, timeout=0.5)
        assert [query.test for query in server.queries()] == []
        answer = dns.query.udp(dns.message.make_query("orders.ipc.test", "A"), server.nameserver, port=server.port, timeout=1)
        assert [item.address for rrset in answer.answer for item in rrset] == ["127.0.0.99"]
