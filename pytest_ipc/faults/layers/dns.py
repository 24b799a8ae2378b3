"""The dns layer: how the test's name server (`ipc_dns`, a `DnsServer`) performs faults, per query.

A fault attached to the server (`ipc_dns.inject`, `faults.inject(..., into=ipc_dns)`) is a
`DnsArmedFault`; for every query its `Trigger` says whether it fires, and a fault that fires shapes
the query's `Plan`: ``nxdomain()`` and ``servfail()`` replace the answer's rcode, ``hang()`` sends
no answer at all (the resolver times out, as with a dead name server), ``latency(delay)`` answers
late, ``records_changed(drop)`` leaves out the first addresses of each name (instances that moved
away) and ``zero_ttl()`` answers with TTL 0. What a resolver then raises is the production error:
dnspython's ``NXDOMAIN``, ``NoNameservers``, ``LifetimeTimeout``; c-ares' ``ARES_ENOTFOUND``,
``ARES_ESERVFAIL``, ``ARES_ETIMEOUT``; through `ipc_dns.system_resolver()` ``socket.gaierror``
EAI_NONAME or EAI_AGAIN, as glibc says them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_ipc.faults import vocabulary as v
from pytest_ipc.faults.errors import FaultNotSupported

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedStub
    from pytest_ipc.discovery.server import DnsServer, Plan


# The rcodes (RFC 1035), here so that the vocabulary loads without dnspython (extra `discovery`).
SERVFAIL = 2
NXDOMAIN = 3


def _latency(fault: v.Latency, plan: Plan, armed: DnsArmedFault) -> None:
    plan.delay += fault.sample(armed.trigger.rng)


def _hang(fault: v.Hang, plan: Plan, armed: DnsArmedFault) -> None:
    plan.hang = True


def _nxdomain(fault: v.NxDomain, plan: Plan, armed: DnsArmedFault) -> None:
    plan.rcode = NXDOMAIN


def _servfail(fault: v.ServFail, plan: Plan, armed: DnsArmedFault) -> None:
    plan.rcode = SERVFAIL


def _records_changed(fault: v.RecordsChanged, plan: Plan, armed: DnsArmedFault) -> None:
    plan.drop = max(plan.drop, fault.drop)


def _zero_ttl(fault: v.ZeroTtl, plan: Plan, armed: DnsArmedFault) -> None:
    plan.ttl = 0


Shaper = Callable[[Any, "Plan", "DnsArmedFault"], None]
SHAPERS: dict[type[v.Fault], Shaper] = {
    v.Latency: _latency,
    v.Hang: _hang,
    v.NxDomain: _nxdomain,
    v.ServFail: _servfail,
    v.RecordsChanged: _records_changed,
    v.ZeroTtl: _zero_ttl,
}


class DnsArmedFault:
    """A fault attached to the DNS server: its trigger (firing rules, random stream, counts)."""

    def __init__(self, fault: v.Fault) -> None:
        self.fault = fault
        self.trigger = v.Trigger(fault)

    def fires(self) -> bool:
        return self.trigger.fires()

    def shape(self, plan: Plan) -> None:
        SHAPERS[type(self.fault)](self.fault, plan, self)


def arm(fault: v.Fault | str) -> DnsArmedFault:
    """`fault` (or its name) ready for the DNS server; FaultNotSupported if the layer cannot perform it."""
    from pytest_ipc.faults.layers import check_fault, layers_for  # the registry imports this module

    chosen = v.make(fault) if isinstance(fault, str) else check_fault(fault)
    why = LAYER.why_not(chosen)
    if why is not None:
        raise FaultNotSupported(chosen.describe(), LAYER.name, layers_for(chosen), why)
    return DnsArmedFault(chosen)


class DnsInjection:
    """A fault in place on the DNS server; its trigger counts the queries it acted on."""

    deferred = False

    def __init__(self, fault: v.Fault, server: DnsServer) -> None:
        self.server = server
        self.armed = arm(fault)
        server.faults.append(self.armed)
        self._removed = False

    def activations(self) -> int:
        self.server.refresh()
        return self.armed.trigger.fired

    def never_fired(self) -> str:
        seen = self.armed.trigger.seen
        if seen:
            return f"the DNS server saw {seen} query(ies) and the fault's firing rules let every one through"
        return (
            "the DNS server saw no query during the block: does the client resolve through it (ipc_dns.system_resolver(), "
            "a resolver with ipc_dns.nameserver and ipc_dns.port), or did it reuse an answer it had cached?"
        )

    def remove(self) -> None:
        if not self._removed:
            self._removed = True
            self.server.faults[:] = [armed for armed in self.server.faults if armed is not self.armed]


class DnsLayer:
    name = "dns"
    target_hint = "a DnsServer (ipc_dns)"

    def handles(self, target: object) -> bool:
        from pytest_ipc.discovery.server import DnsServer

        return isinstance(target, DnsServer)

    def why_not(self, fault: v.Fault) -> str | None:
        if type(fault) not in SHAPERS:
            return (
                "a name server answers queries: it can fail them (nxdomain, servfail), answer late (latency), not at all "
                "(hang), or change the records (records_changed, zero_ttl)"
            )
        return None

    def inject(self, fault: v.Fault, target: DnsServer, upstream: ObservedStub | None) -> DnsInjection:
        return DnsInjection(fault, target)


LAYER = DnsLayer()
