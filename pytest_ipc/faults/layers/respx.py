"""The respx layer: in-process faults for httpx clients, answered or raised without the network.

Only httpx requests under the target's base URL are touched; everything else (and a request the
fault lets through: `times` used up, a `probability` draw that missed) passes through to the real
network, so the stub behind the URL still answers and journals the healthy calls. The client's own
timeouts are *not* exercised here (respx raises `httpx.ReadTimeout` at once): use the stub or proxy
layer to measure them. A client that does not use httpx (requests, aiohttp) never sees these
faults, which the never-fired check reports.

TLS faults are faked the same way: the httpx error a verifying client would raise, with the text of
the `ssl` error it wraps ("certificate verify failed: certificate has expired", ...; respx replaces
the exception's `__cause__` with its own `SideEffectError`, so match the text, not the cause). That
proves how the client *handles* a failed handshake, never that it *verifies*: no certificate is
presented, so a client with ``verify=False`` fails here just like a correct one. Use the stub's
HTTPS mode (or `pytest_ipc.security`) to prove verification.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from pytest_ipc._observed import arrived_since
from pytest_ipc.faults import vocabulary as v

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub

Effect = Callable[[httpx.Request], httpx.Response]


@dataclass(frozen=True)
class InProcess:
    """httpx requests whose URL starts with `url`, faulted in-process by respx."""

    url: str


def _raising(error: type[httpx.TransportError], message: str) -> Effect:
    def effect(request: httpx.Request) -> httpx.Response:
        raise error(f"{message} (injected by pytest-ipc)", request=request)

    return effect


def _tls(error: type[httpx.TransportError], fault: v.TlsFault) -> Effect:
    """Raise `error` as httpx does when the handshake fails: from the `ssl` (or OS) error it wraps."""

    def effect(request: httpx.Request) -> httpx.Response:
        cause: OSError
        if isinstance(fault, v.HandshakeReset):
            cause = ConnectionResetError(104, "Connection reset by peer")
        elif isinstance(fault, v.HandshakeStall):
            cause = TimeoutError("_ssl.c:990: The handshake operation timed out")
        elif "CERTIFICATE_VERIFY_FAILED" in fault.symptom:
            cause = ssl.SSLCertVerificationError(1, f"{fault.symptom} (_ssl.c:1000)")
        else:
            cause = ssl.SSLError(1, f"{fault.symptom} (_ssl.c:1000)")
        raise error(f"{cause} (injected by pytest-ipc)", request=request) from cause

    return effect


def _status(fault: v.Status) -> Effect:
    headers = {} if fault.retry_after is None else {"retry-after": str(fault.retry_after)}
    return lambda request: httpx.Response(fault.code, headers=headers, text=fault.body)


# Each entry reads the fields of its own fault type (hence Any: the key fixes the type).
EFFECTS: dict[type[v.Fault], Callable[[Any], Effect]] = {
    v.Outage: lambda fault: _raising(httpx.ConnectError, "[Errno 111] Connection refused"),
    v.ConnectTimeout: lambda fault: _raising(httpx.ConnectTimeout, "timed out connecting"),
    v.ReadTimeout: lambda fault: _raising(httpx.ReadTimeout, "timed out reading"),
    v.Reset: lambda fault: _raising(httpx.ReadError, "[Errno 104] Connection reset by peer"),
    v.MalformedResponse: lambda fault: _raising(httpx.RemoteProtocolError, "illegal chunk header"),
    v.EmptyResponse: lambda fault: _raising(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
    v.CloseBeforeHeaders: lambda fault: _raising(httpx.RemoteProtocolError, "Server disconnected without sending a complete response."),
    v.Status: _status,
    v.ExpiredCertificate: lambda fault: _tls(httpx.ConnectError, fault),
    v.NotYetValidCertificate: lambda fault: _tls(httpx.ConnectError, fault),
    v.WrongHost: lambda fault: _tls(httpx.ConnectError, fault),
    v.UnknownCa: lambda fault: _tls(httpx.ConnectError, fault),
    v.SelfSigned: lambda fault: _tls(httpx.ConnectError, fault),
    v.OldProtocol: lambda fault: _tls(httpx.ConnectError, fault),
    v.HandshakeReset: lambda fault: _tls(httpx.ConnectError, fault),
    v.HandshakeStall: lambda fault: _tls(httpx.ConnectTimeout, fault),
    # TLS 1.3 settles client certificates after the client's handshake ends: it sees the alert on its first read
    v.ClientCertRequired: lambda fault: _tls(httpx.ReadError, fault),
    v.ClientCertRejected: lambda fault: _tls(httpx.ReadError, fault),
    v.ClientCertExpired: lambda fault: _tls(httpx.ReadError, fault),
}


class RespxInjection:
    """A respx router in place for one fault; counts the requests it faulted."""

    deferred = False

    def __init__(self, fault: v.Fault, target: InProcess, upstream: ObservedStub | None) -> None:
        import respx  # here: respx patches httpx only while a fault is in place

        self.fault = fault
        self.target = target
        self.upstream = upstream
        self.started = time.monotonic()
        self.trigger = v.Trigger(fault)
        effect = EFFECTS[type(fault)](fault)

        def side_effect(request: httpx.Request) -> httpx.Response | httpx.Request:
            return effect(request) if self.trigger.fires() else request  # a request returned passes through

        self.router = respx.mock(assert_all_called=False, assert_all_mocked=False)
        self.router.route(url__startswith=target.url).mock(side_effect=side_effect)
        self.router.route().pass_through()  # any other URL (a Toxiproxy API, say) stays real
        self.router.start()
        self._removed = False

    def activations(self) -> int:
        return self.trigger.fired

    def never_fired(self) -> str:
        if self.trigger.seen:
            return f"{self.trigger.seen} httpx request(s) to {self.target.url} drew the fault and it never fired"
        reached = None if self.upstream is None else arrived_since(self.upstream.calls(), self.started)
        if reached:
            return (
                f"respx only intercepts httpx; this call did not go through httpx (the stub saw {len(reached)} "
                "request(s) during the block): use the stub or proxy layer"
            )
        if self.upstream is None:
            return (
                f"no httpx request to {self.target.url} was made during the block: the client called another URL, or "
                "not through httpx (respx only intercepts httpx; pass upstream=http_stub to see what reached the stub)"
            )
        return f"no request to {self.target.url} was made during the block: did the client call ipc_target_url?"

    def remove(self) -> None:
        if not self._removed:
            self._removed = True
            self.router.stop()


class RespxLayer:
    name = "respx"
    target_hint = "InProcess(base_url)"

    def handles(self, target: object) -> bool:
        return isinstance(target, InProcess)

    def why_not(self, fault: v.Fault) -> str | None:
        if type(fault) not in EFFECTS:
            return "respx answers in-process at once: it cannot hold a real socket open or slow one down"
        return None

    def inject(self, fault: v.Fault, target: InProcess, upstream: ObservedStub | None) -> RespxInjection:
        return RespxInjection(fault, target, upstream)


LAYER = RespxLayer()
