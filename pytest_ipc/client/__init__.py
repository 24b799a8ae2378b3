"""A typed, synchronous client for any Toxiproxy API: pytest-ipc's embedded server, a real Toxiproxy
at a URL, or one in a container.

    with ToxiproxyClient(url) as toxiproxy:
        proxy = toxiproxy.create_proxy("db", upstream="127.0.0.1:5432")
        with proxy.latency(0.5, jitter=0.05):
            ...  # every answer from the database is half a second late (units: seconds, bytes)
        with proxy.down():
            ...  # connections to proxy.port are refused
"""

from pytest_ipc.client.client import DEFAULT_URL, ToxiproxyClient, ToxiproxyServer
from pytest_ipc.client.counters import DirectionCounters, LiveConnection, ProxyCounters, ToxicCounters
from pytest_ipc.client.errors import (
    InvalidArgument,
    InvalidRequest,
    ProxyExists,
    ProxyNotFound,
    ServerUnreachable,
    ToxicExists,
    ToxicNotFound,
    ToxiproxyError,
    UnsupportedByServer,
)
from pytest_ipc.client.proxy import Proxy
from pytest_ipc.client.scoped import ScopedToxiproxy
from pytest_ipc.client.tls import TlsTermination
from pytest_ipc.client.toxics import Toxic

__all__ = [
    "DEFAULT_URL",
    "DirectionCounters",
    "InvalidArgument",
    "InvalidRequest",
    "LiveConnection",
    "Proxy",
    "ProxyCounters",
    "ProxyExists",
    "ProxyNotFound",
    "ScopedToxiproxy",
    "ServerUnreachable",
    "TlsTermination",
    "Toxic",
    "ToxicCounters",
    "ToxicExists",
    "ToxicNotFound",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyServer",
    "UnsupportedByServer",
]
