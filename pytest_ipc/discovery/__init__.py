"""Service discovery under test: a DNS server on loopback whose answers and faults a test controls.

    def test_client_follows_the_records(http_stub_group, ipc_dns):
        orders = http_stub_group(3, service="orders")   # A and SRV records for orders.ipc.test
        orders.expect("GET", "/v1/orders").respond(json=[])
        with ipc_dns.system_resolver():                  # socket.getaddrinfo asks ipc_dns for *.ipc.test
            httpx.get(orders.url_for("/v1/orders"))      # http://orders.ipc.test:PORT/v1/orders
        with faults.inject(faults.nxdomain(), into=ipc_dns):
            ...

`DnsServer` (`server`) answers A/AAAA/SRV over UDP and TCP; its faults are the dns layer of
`pytest_ipc.faults` (``nxdomain``, ``servfail``, ``hang`` for a timeout, ``latency`` for a slow answer,
``records_changed``, ``zero_ttl``). `resolvers` points clients at it: the system resolver for the
zone, dnspython, aiodns/aiohttp, grpcio's ``dns://`` authority. Needs the extra ``discovery``.
Fixtures: `pytest_ipc.fixtures.discovery`.
"""

from pytest_ipc.discovery.resolvers import aiohttp_resolver, dnspython_resolver, system_resolver
from pytest_ipc.discovery.server import DEFAULT_TTL, ZONE, DnsQuery, DnsServer, DnsUsageError

__all__ = [
    "DEFAULT_TTL",
    "ZONE",
    "DnsQuery",
    "DnsServer",
    "DnsUsageError",
    "aiohttp_resolver",
    "dnspython_resolver",
    "system_resolver",
]
