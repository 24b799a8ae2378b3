"""Typed answers of pytest-ipc's ``/proxies/{name}/counters`` and ``/connections`` (not in a real
Toxiproxy).

They let a test assert that a fault really fired ("the reset_peer toxic cut 1 connection") instead
of inferring it from the client's symptoms alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DirectionCounters:
    """Bytes of one direction: read from its source side, and written to its destination side."""

    received: int = 0
    sent: int = 0


@dataclass(frozen=True)
class ToxicCounters:
    """How often a toxic acted (its toxicity draw succeeded) and how many connections it cut.

    Only timeout, reset_peer and limit_data cut connections; the others always report 0 cuts.
    """

    type: str
    activations: int = 0
    connections_cut: int = 0


@dataclass(frozen=True)
class ProxyCounters:
    """Counters of one proxy since it was created; `upstream` is client -> server traffic."""

    connections_accepted: int = 0
    connections_active: int = 0
    upstream_failures: int = 0
    tls_client_hellos: int = 0  # connections that opened with a TLS handshake record (a ClientHello)
    tls_fault_activations: int = 0  # handshakes a terminating proxy's TLS fault acted on
    upstream: DirectionCounters = field(default_factory=DirectionCounters)
    downstream: DirectionCounters = field(default_factory=DirectionCounters)
    toxics: dict[str, ToxicCounters] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProxyCounters:
        directions = data.get("bytes") or {}
        return cls(
            connections_accepted=int(data.get("connections_accepted", 0)),
            connections_active=int(data.get("connections_active", 0)),
            upstream_failures=int(data.get("upstream_failures", 0)),
            tls_client_hellos=int(data.get("tls_client_hellos", 0)),
            tls_fault_activations=int(data.get("tls_fault_activations", 0)),
            upstream=_direction(directions.get("upstream") or {}),
            downstream=_direction(directions.get("downstream") or {}),
            toxics={
                name: ToxicCounters(
                    type=str(toxic.get("type", "")),
                    activations=int(toxic.get("activations", 0)),
                    connections_cut=int(toxic.get("connections_cut", 0)),
                )
                for name, toxic in (data.get("toxics") or {}).items()
            },
        )


def _direction(data: Mapping[str, Any]) -> DirectionCounters:
    return DirectionCounters(received=int(data.get("received", 0)), sent=int(data.get("sent", 0)))


@dataclass(frozen=True)
class LiveConnection:
    """One open connection through a proxy; `upstream` is None while the upstream connect is under way."""

    client: str
    upstream: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LiveConnection:
        return cls(client=str(data["client"]), upstream=data.get("upstream"))
