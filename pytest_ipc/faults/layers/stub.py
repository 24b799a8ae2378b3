"""The stub layer: how the HTTP stub performs each fault on the wire, and its fault activations.

A fault is attached to the whole stub (`http_stub.inject`, `faults.inject(..., into=http_stub)`) or
to one route (`route.inject`, `faults.inject(..., into=route)`: proven like the stub's) as an
`ArmedFault`. For every request it asks its `Trigger` whether it
fires; a fault that fires gets the response the route would send and either returns a response to
go on with (a delay returns it later, a status replaces it) or writes to the raw connection itself
and returns None (the connection then closes). Stub-wide faults act before any route's own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pytest_ipc._http import Exchange, Response
from pytest_ipc._loop import sleep_until
from pytest_ipc.faults import vocabulary as v
from pytest_ipc.faults.errors import FaultNotSupported, FaultUsageError
from pytest_ipc.faults.layers import stub_tls

if TYPE_CHECKING:
    import random

    from pytest_ipc._observed import ObservedStub
    from pytest_ipc.stub import HttpStub
    from pytest_ipc.stub.routes import Route

Perform = Callable[[Any, Response, Exchange, "random.Random"], Awaitable[Response | None]]
PACE = 0.01  # seconds between the pieces of a bandwidth-limited answer


def status_response(fault: v.Status) -> Response:
    """The answer a `Status` fault sends; `route.fail_first` builds its replies from it too."""
    headers = [("content-type", "text/plain; charset=utf-8")]
    if fault.retry_after is not None:
        headers.append(("retry-after", str(fault.retry_after)))
    return Response(fault.code, fault.body.encode(), headers)


async def _latency(fault: v.Latency, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    await sleep_until(time.monotonic() + fault.sample(rng))
    return response


async def _hang(fault: v.Hang, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    await asyncio.get_running_loop().create_future()  # only cancellation (reset, stop) ends a hang
    return None


async def _reset(fault: v.Reset, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    exchange.abort()
    return None


async def _status(fault: v.Status, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    return status_response(fault)


async def _empty(fault: v.EmptyResponse, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    return None


async def _close_before_headers(fault: v.CloseBeforeHeaders, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    head = exchange.head_bytes(response)
    exchange.write(head[: head.index(b"\r\n") + 2])
    await exchange.drain()
    return None


async def _malformed(fault: v.MalformedResponse, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    good = response.body[:16] or b"partial"
    exchange.write(exchange.head_bytes(response, chunked=True))
    exchange.write(b"%x\r\n%s\r\n" % (len(good), good))
    exchange.write(b"not-a-chunk-size\r\n")  # deliberately invalid chunked framing
    await exchange.drain()
    return None


async def _random_bytes(fault: v.RandomBytes, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    garbage = bytearray(rng.randbytes(fault.size))
    garbage[0] = 0  # never accidentally the start of "HTTP/"
    exchange.write(bytes(garbage))
    await exchange.drain()
    return None


async def _truncated(fault: v.Truncated, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    exchange.write((exchange.head_bytes(response) + response.body)[: fault.size])
    await exchange.drain()
    return None


async def _paced(exchange: Exchange, pieces: list[bytes], duration: float) -> None:
    """Write `pieces` evenly over `duration`: piece i goes out at (i + 1) / n of it."""
    started = time.monotonic()
    for index, piece in enumerate(pieces):
        await sleep_until(started + duration * (index + 1) / len(pieces))
        exchange.write(piece)
        await exchange.drain()


async def _dribble(fault: v.Dribble, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    at_once, pieces = fault.plan(exchange.head_bytes(response), response.body)
    if at_once:
        exchange.write(at_once)
        await exchange.drain()
    await _paced(exchange, pieces, fault.duration)
    return None


async def _bandwidth(fault: v.Bandwidth, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
    data = exchange.head_bytes(response) + response.body
    size = max(1, round(fault.rate * PACE))
    pieces = [data[start : start + size] for start in range(0, len(data), size)]
    await _paced(exchange, pieces, len(data) / fault.rate)
    return None


PERFORMERS: dict[type[v.Fault], Perform] = {
    v.Latency: _latency,
    v.Hang: _hang,
    v.Reset: _reset,
    v.Status: _status,
    v.EmptyResponse: _empty,
    v.CloseBeforeHeaders: _close_before_headers,
    v.MalformedResponse: _malformed,
    v.RandomBytes: _random_bytes,
    v.Truncated: _truncated,
    v.Dribble: _dribble,
    v.Bandwidth: _bandwidth,
}


class ArmedFault:
    """A fault attached to the stub or a route: its trigger (firing rules, random stream, counts)."""

    def __init__(self, fault: v.Fault) -> None:
        self.fault = fault
        self.trigger = v.Trigger(fault)

    def fires(self) -> bool:
        return self.trigger.fires()

    async def apply(self, response: Response, exchange: Exchange) -> Response | None:
        return await PERFORMERS[type(self.fault)](self.fault, response, exchange, self.trigger.rng)


def arm(fault: v.Fault | str) -> ArmedFault:
    """`fault` (or a fault's name, see `faults.make`) ready for the stub; FaultNotSupported if it cannot."""
    from pytest_ipc.faults.layers import check_fault, layers_for  # the registry imports this module

    chosen = v.make(fault) if isinstance(fault, str) else check_fault(fault)
    why = LAYER.why_not(chosen)
    if isinstance(chosen, v.TlsFault):  # not per request: the handshake is over before any route is asked
        why = "a TLS fault acts on the handshake, before any request: use faults.inject(fault, into=https_stub)"
    if why is not None:
        raise FaultNotSupported(chosen.describe(), LAYER.name, layers_for(chosen), why)
    return ArmedFault(chosen)


class StubInjection:
    """A fault in place on the whole stub or on one of its routes (the token endpoint, say); its
    trigger counts the requests it acted on."""

    deferred = False

    def __init__(self, fault: v.Fault, target: HttpStub | Route) -> None:
        from pytest_ipc.stub.routes import Route  # here: the stub imports this module to arm its faults

        self.route = target if isinstance(target, Route) else None
        self.faults = target.faults
        self._publish = target.on_change if isinstance(target, Route) else target.publish
        self._refresh = target.refresh
        self._url = None if isinstance(target, Route) else target.url
        self.armed = arm(fault)
        self.faults.append(self.armed)
        try:
            self._publish()  # the stub's server may refuse it (WireMock: WireMockUnsupported)
        except BaseException:
            self.faults.remove(self.armed)
            raise
        self._removed = False

    def activations(self) -> int:
        self._refresh()  # WireMock's journal is read back, its faults counted
        return self.armed.trigger.fired

    def never_fired(self) -> str:
        seen = self.armed.trigger.seen
        if seen:
            return f"the stub saw {seen} request(s) and the fault's firing rules let every one through"
        if self.route is not None:
            return f"no request reached the route {self.route.name} during the block"
        return f"the stub saw no request during the block: did the client call ipc_target_url (here {self._url})?"

    def remove(self) -> None:
        if not self._removed:
            self._removed = True
            self.faults[:] = [armed for armed in self.faults if armed is not self.armed]
            self._publish()


class StubLayer:
    name = "stub"
    target_hint = "an HttpStub (http_stub) or one of its routes"

    def handles(self, target: object) -> bool:
        from pytest_ipc.stub.routes import Route  # here: the stub imports this module to arm its faults
        from pytest_ipc.stub.server import HttpStub

        return isinstance(target, (HttpStub, Route))

    def why_not(self, fault: v.Fault) -> str | None:
        if isinstance(fault, v.TlsFault):
            return stub_tls.why_not(fault)
        if type(fault) not in PERFORMERS:
            return "the stub is an HTTP server that is listening: it can answer badly or late, not refuse connections or time out a connect"
        return None

    def inject(self, fault: v.Fault, target: HttpStub | Route, upstream: ObservedStub | None) -> StubInjection | stub_tls.StubTlsInjection:
        if isinstance(fault, v.TlsFault):
            from pytest_ipc.stub.server import HttpStub

            if not isinstance(target, HttpStub):
                raise FaultUsageError(
                    f"{fault.describe()} happens in the TLS handshake, before any route is chosen: inject it into the https_stub"
                )
            return stub_tls.StubTlsInjection(fault, target)
        return StubInjection(fault, target)


LAYER = StubLayer()
