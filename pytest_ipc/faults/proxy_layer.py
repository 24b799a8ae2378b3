"""TCP faults on a fault-proxy `Proxy` (in front of the stub or any upstream): toxics, or `down()`.

The proxy sees bytes, not HTTP, so it can slow, stall, cut or refuse connections but not choose a
status code. Leaving `inject` removes the toxic (or enables the proxy again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ..client import Proxy
from . import vocabulary as v

LAYER = "proxy"
WHY_NOT = "the proxy relays TCP bytes and cannot speak HTTP"


# Each entry reads the fields of its own fault type (hence Any: the key fixes the type).
TOXICS: dict[type[v.Fault], Callable[[Any, Proxy], AbstractContextManager[object]]] = {
    v.Latency: lambda fault, proxy: proxy.latency(fault.seconds),
    v.Hang: lambda fault, proxy: proxy.timeout(0),  # swallow the answer, never close
    v.Outage: lambda fault, proxy: proxy.down(),
    v.Reset: lambda fault, proxy: proxy.reset_peer(0),
    v.Bandwidth: lambda fault, proxy: proxy.bandwidth(fault.kb_s * 1000),
}


@contextmanager
def inject(fault: v.Fault, target: Proxy) -> Iterator[None]:
    with TOXICS[type(fault)](fault, target):
        yield
