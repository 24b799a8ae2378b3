"""In-process faults for httpx clients: a respx route answers or raises instead of the network.

Only requests under the target's base URL are touched; everything else (and a fault that does not
fire, like `fail_first` after its failures) passes through to the real network, so the stub behind
the URL still answers and journals the healthy calls. The client's own timeouts are *not* exercised
here (respx raises `httpx.ReadTimeout` at once): use the stub or proxy layer to measure them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from . import vocabulary as v

LAYER = "respx"
WHY_NOT = "respx answers in-process at once, it cannot hold a real socket open or slow one down"

SideEffect = Callable[[httpx.Request], "httpx.Response | httpx.Request"]


@dataclass(frozen=True)
class InProcess:
    """httpx requests whose URL starts with `url`, faulted in-process by respx."""

    url: str


def _raising(error: type[httpx.TransportError], message: str) -> SideEffect:
    def effect(request: httpx.Request) -> httpx.Response:
        raise error(f"{message} (injected by pytest-ipc)", request=request)

    return effect


def _status(fault: v.Status) -> SideEffect:
    headers = {} if fault.retry_after is None else {"retry-after": str(fault.retry_after)}
    return lambda request: httpx.Response(fault.status, headers=headers, text=f"injected {fault.status}")


def _fail_first(fault: v.FailFirst) -> SideEffect:
    seen = itertools.count(1)

    def effect(request: httpx.Request) -> httpx.Response | httpx.Request:
        if next(seen) <= fault.times:
            return httpx.Response(fault.status, text=f"injected {fault.status}")
        return request  # respx: pass through to the real server

    return effect


EFFECTS: dict[type[v.Fault], Callable[[Any], SideEffect]] = {
    v.Outage: lambda fault: _raising(httpx.ConnectError, "[Errno 111] Connection refused"),
    v.ConnectTimeout: lambda fault: _raising(httpx.ConnectTimeout, "timed out connecting"),
    v.ReadTimeout: lambda fault: _raising(httpx.ReadTimeout, "timed out reading"),
    v.Reset: lambda fault: _raising(httpx.ReadError, "[Errno 104] Connection reset by peer"),
    v.MalformedResponse: lambda fault: _raising(httpx.RemoteProtocolError, "illegal chunk header"),
    v.EmptyResponse: lambda fault: _raising(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
    v.Status: _status,
    v.FailFirst: _fail_first,
}


@contextmanager
def inject(fault: v.Fault, target: InProcess) -> Iterator[None]:
    effect = EFFECTS[type(fault)](fault)
    with respx.mock(assert_all_called=False, assert_all_mocked=False) as router:
        router.route(url__startswith=target.url).mock(side_effect=effect)
        router.route().pass_through()  # any other host (a Toxiproxy API, say) stays real
        yield
