"""The proxy layer: TCP faults on a fault-proxy `Proxy` (toxics, or the listener disabled).

The proxy sees bytes, not HTTP, so it can slow, stall, cut or refuse connections but not choose a
status code. Its evidence is pytest-ipc's `proxy.counters()`: a toxic fired when its activations
grew *and* the client sent bytes through the proxy meanwhile. A real Toxiproxy has no counters: the
proof is then unavailable, said once as a warning, and nothing fails for want of it.

TLS faults: a proxy that passes TLS through sees only the ClientHello, so it can stall or reset the
handshake (a toxic on the client's first bytes) and nothing else. A proxy that terminates TLS
(`create_proxy(..., tls=TlsTermination.issued_by(ipc_tls_ca))`) performs every TLS fault in its own
handshakes: it presents the bad certificate, requires or refuses client certificates, speaks only an
old protocol, or holds the handshake; its evidence is the ClientHellos the fault met.

An outage (a disabled listener) refuses connections, which nothing can count. It is proven
indirectly: the client connected through this proxy at some time in the test, before the outage or
after it healed; the check is settled at the end of the test.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_ipc.client.errors import ProxyNotFound, ToxicNotFound, UnsupportedByServer
from pytest_ipc.client.proxy import Proxy
from pytest_ipc.client.toxics import Toxic
from pytest_ipc.faults import vocabulary as v
from pytest_ipc.faults.errors import FaultUsageError
from pytest_ipc.faults.layers.handshake import HELD, plan_for

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub
    from pytest_ipc.client.counters import ProxyCounters

KILOBYTE = 1000  # Toxiproxy's bandwidth unit


class FaultProofUnavailable(UserWarning):
    """The server has no counters (a real Toxiproxy), so whether a proxy fault fired is unknown."""


def _uniform(fault: v.Latency, proxy: Proxy, toxicity: float) -> Toxic:
    middle, spread = (fault.low + fault.high) / 2, (fault.high - fault.low) / 2
    return proxy.latency(middle, jitter=spread, toxicity=toxicity)


# Each entry reads the fields of its own fault type (hence Any: the key fixes the type).
TOXICS: dict[type[v.Fault], Callable[[Any, Proxy, float], Toxic]] = {
    v.Latency: lambda fault, proxy, toxicity: (
        _uniform(fault, proxy, toxicity) if fault.distribution == "uniform" else proxy.latency(fault.delay, toxicity=toxicity)
    ),
    v.Hang: lambda fault, proxy, toxicity: proxy.timeout(0, toxicity=toxicity),  # swallow the answer, never close
    v.Reset: lambda fault, proxy, toxicity: proxy.reset_peer(timeout=0, toxicity=toxicity),
    v.Bandwidth: lambda fault, proxy, toxicity: proxy.bandwidth(fault.rate, toxicity=toxicity),
    v.Truncated: lambda fault, proxy, toxicity: proxy.limit_data(fault.size, toxicity=toxicity),
    # TLS in pass-through: the client's first bytes (its ClientHello) are swallowed, or answered with a reset
    v.HandshakeStall: lambda fault, proxy, toxicity: proxy.timeout(0, stream="upstream", toxicity=toxicity),
    v.HandshakeReset: lambda fault, proxy, toxicity: proxy.reset_peer(timeout=0, stream="upstream", toxicity=toxicity),
}
HANDSHAKE_FAULTS = (v.HandshakeStall, v.HandshakeReset)


def _counters(proxy: Proxy) -> ProxyCounters | None:
    try:
        return proxy.counters()
    except UnsupportedByServer:
        warnings.warn(
            FaultProofUnavailable(
                f"proxy {proxy.name}: this Toxiproxy server has no counters (pytest-ipc's embedded one has), "
                "so whether its faults fired cannot be proven; they are not checked"
            ),
            stacklevel=4,
        )
        return None


def _address_hint(proxy: Proxy, upstream: ObservedStub | None) -> str:
    """Where the client should have called: an HTTP client the proxy's URL, an RPC client its host:port."""
    from pytest_ipc.rpc.stub import RpcStub

    if isinstance(upstream, RpcStub):
        return f"ipc_target (here {proxy.host}:{proxy.port})"
    return f"ipc_target_url (here {proxy.url})"


class ToxicInjection:
    """A toxic in place; its activations count only while the client's bytes flowed through, or it connected."""

    deferred = False

    def __init__(self, fault: v.Fault, proxy: Proxy, upstream: ObservedStub | None) -> None:
        self.proxy = proxy
        self.upstream = upstream
        self.before = _counters(proxy)
        self.toxic = TOXICS[type(fault)](fault, proxy, fault.probability)
        self._final: int | None = None
        self._sent = 0  # bytes the client sent through the proxy while the toxic was in place
        self._removed = False

    def activations(self) -> int | None:
        if self._removed:
            return self._final
        if self.before is None:
            return None
        after = self.proxy.counters()
        fired = after.toxics.get(self.toxic.name)
        earlier = self.before.toxics.get(self.toxic.name)
        activations = (fired.activations if fired else 0) - (earlier.activations if earlier else 0)
        self._sent = after.upstream.received - self.before.upstream.received
        # A connection opened during the toxic is the client's too: a server that speaks first (HTTP/2's
        # SETTINGS) meets a reset before the client's own bytes arrive.
        opened = after.connections_accepted - self.before.connections_accepted
        return activations if self._sent > 0 or opened > 0 else 0

    def never_fired(self) -> str:
        if self._sent:
            return f"the client's bytes went through the proxy but the toxic never activated (toxicity {self.toxic.toxicity})"
        direct = ""
        if self.upstream is not None and self.upstream.calls():
            direct = f" (the stub behind it saw {len(self.upstream.calls())} request(s) in this test: the client reached it some other way)"
        return f"the client never connected through the proxy — did it use {_address_hint(self.proxy, self.upstream)}?{direct}"

    def remove(self) -> None:
        if self._removed:
            return
        try:
            self._final = self.activations()
        except ProxyNotFound:
            self._final = 0
        self._removed = True
        with contextlib.suppress(ToxicNotFound, ProxyNotFound):  # removed in the block, or the proxy deleted with it
            self.toxic.remove()


class HandshakeInjection(ToxicInjection):
    """A toxic on the client's first bytes; it counts only while ClientHellos (TLS record 0x16) came through."""

    def __init__(self, fault: v.Fault, proxy: Proxy, upstream: ObservedStub | None) -> None:
        super().__init__(fault, proxy, upstream)
        self._hellos = 0  # connections through the proxy that opened with a TLS handshake meanwhile

    def activations(self) -> int | None:
        activations = super().activations()
        if self._removed or self.before is None or not activations:
            return activations
        self._hellos = self.proxy.counters().tls_client_hellos - self.before.tls_client_hellos
        return min(activations, self._hellos)

    def never_fired(self) -> str:
        if self._sent and not self._hellos:
            return (
                "the client's bytes went through the proxy but no connection opened with a TLS ClientHello (record type "
                f"0x16): it spoke plain text; did it call https:// (here {self.proxy.url.replace('http://', 'https://', 1)})?"
            )
        return super().never_fired()


class TlsFaultInjection:
    """A TLS fault performed by a terminating proxy in its handshakes; it counts the ClientHellos it met."""

    deferred = False

    def __init__(self, fault: v.TlsFault, proxy: Proxy) -> None:
        termination = proxy.termination
        authority = None if termination is None else termination.authority
        if authority is None and not isinstance(fault, HANDSHAKE_FAULTS):
            raise FaultUsageError(
                f"{fault.describe()} at the proxy layer issues its bad certificate from the proxy's certificate authority: "
                f"create proxy {proxy.name} with tls=TlsTermination.issued_by(ipc_tls_ca) and inject into the Proxy that "
                "create_proxy returned (a handle read back from the server does not know the authority)"
            )
        self.proxy = proxy
        self.before = _counters(proxy)
        if isinstance(fault, HANDSHAKE_FAULTS):
            proxy.set_tls_fault(handshake=HELD[type(fault)], toxicity=fault.probability)
        else:
            assert authority is not None and termination is not None
            plan = plan_for(fault, authority, termination.identities)
            proxy.set_tls_fault(
                certificate=plan.certificate, client_ca=plan.client_ca, version=plan.version or "", toxicity=fault.probability
            )
        self._final: int | None = None
        self._removed = False

    def activations(self) -> int | None:
        if self._removed:
            return self._final
        if self.before is None:
            return None
        return self.proxy.counters().tls_fault_activations - self.before.tls_fault_activations

    def never_fired(self) -> str:
        return (
            f"no TLS handshake met the fault on proxy {self.proxy.name}: did the client call its https:// URL "
            f"(here {self.proxy.url})?"
        )

    def remove(self) -> None:
        if self._removed:
            return
        try:
            self._final = self.activations()
        except ProxyNotFound:
            self._final = 0
        self._removed = True
        with contextlib.suppress(ProxyNotFound):
            self.proxy.clear_tls_fault()


class OutageInjection:
    """The proxy's listener disabled; proven by any connection through the proxy in the test."""

    deferred = True

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.proxy.disable()
        self._removed = False

    def activations(self) -> int | None:
        try:
            counters = _counters(self.proxy)
        except ProxyNotFound:
            return 0
        if counters is None:
            return None
        return 1 if counters.connections_accepted else 0

    def never_fired(self) -> str:
        return (
            "a disabled listener refuses connections and nothing counts refusals, so the outage is proven by a "
            f"connection through the proxy before or after it; proxy {self.proxy.name} saw none in this test — did "
            f"the client use ipc_target_url (here {self.proxy.url})? If it does and the test never heals the "
            "outage, heal it (ipc_fault.heal(), or leave the faults.inject block) and make one call through the "
            "proxy, or opt out with must_fire=False"
        )

    def remove(self) -> None:
        if not self._removed:
            self._removed = True
            with contextlib.suppress(ProxyNotFound):
                self.proxy.enable()


class ProxyLayer:
    name = "proxy"
    target_hint = "a fault-proxy Proxy (toxiproxy.create_proxy(...))"

    def handles(self, target: object) -> bool:
        return isinstance(target, Proxy)

    def why_not(self, fault: v.Fault) -> str | None:
        if not isinstance(fault, (v.Outage, v.TlsFault)) and type(fault) not in TOXICS:
            return "the proxy relays TCP bytes and cannot speak HTTP"
        if fault.times is not None:
            return "a toxic acts on every connection while it is in place; it cannot count its firings (times=)"
        if fault.seed is not None:
            return "the proxy draws its toxicity from its own random stream; a seed cannot be set"
        if isinstance(fault, v.Outage) and fault.probability < 1.0:
            return "a disabled listener refuses every connection; it has no probability"
        if isinstance(fault, v.Latency) and fault.distribution == "lognormal":
            return "the latency toxic draws from latency +- jitter (uniform); it has no lognormal tail"
        if isinstance(fault, v.Bandwidth) and fault.rate % KILOBYTE:
            return f"the bandwidth toxic counts whole kilobytes (1000 bytes) per second; {fault.rate} is not a multiple"
        return None

    def inject(
        self, fault: v.Fault, target: Proxy, upstream: ObservedStub | None
    ) -> ToxicInjection | OutageInjection | TlsFaultInjection:
        if isinstance(fault, v.Outage):
            return OutageInjection(target)
        if isinstance(fault, v.TlsFault) and target.terminates_tls:
            return TlsFaultInjection(fault, target)
        if isinstance(fault, v.TlsFault) and not isinstance(fault, HANDSHAKE_FAULTS):
            from pytest_ipc.faults.layers import layers_for  # the registry imports this module

            raise FaultUsageError(
                f"{fault.describe()} at the proxy layer needs a proxy that terminates TLS: proxy {target.name} passes TLS "
                "through (its clients see the upstream's own certificate). Create it with "
                "toxiproxy.create_proxy(upstream, tls=TlsTermination.issued_by(ipc_tls_ca)), or inject the fault at another "
                f"layer; layers that can: {', '.join(layers_for(fault))} (proxy: terminating only)"
            )
        if isinstance(fault, HANDSHAKE_FAULTS):
            return HandshakeInjection(fault, target, upstream)
        return ToxicInjection(fault, target, upstream)


LAYER = ProxyLayer()
