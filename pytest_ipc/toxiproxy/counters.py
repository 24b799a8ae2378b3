"""Per-proxy traffic and fault counters: what Toxiproxy's metrics count, plus what it cannot tell you.

Upstream Toxiproxy only counts bytes. A fault test also wants to know whether its toxic actually
fired (a toxicity draw can skip it) and how many connections a timeout, reset_peer or limit_data
toxic cut, so `ProxyTally` keeps those per toxic name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_ipc.toxiproxy.model import STREAMS, Stream

#: Toxic types that end connections; only these report `connections_cut`.
CUTTING_TYPES = frozenset({"timeout", "reset_peer", "limit_data"})


@dataclass
class DirectionTally:
    """Bytes read from the source side and bytes written to the destination side of one direction."""

    received: int = 0
    sent: int = 0

    def to_json(self) -> dict[str, int]:
        return {"received": self.received, "sent": self.sent}


@dataclass
class ToxicTally:
    """How often a toxic's stage started with a successful toxicity draw, and how often it cut a connection."""

    type: str
    activations: int = 0
    connections_cut: int = 0

    def to_json(self) -> dict[str, int | str]:
        body: dict[str, int | str] = {"type": self.type, "activations": self.activations}
        if self.type in CUTTING_TYPES:
            body["connections_cut"] = self.connections_cut
        return body


@dataclass
class ProxyTally:
    """Counters of one proxy since it was created (they survive stop/start)."""

    connections_accepted: int = 0
    connections_active: int = 0
    upstream_failures: int = 0
    tls_client_hellos: int = 0  # connections whose first client byte opened a TLS handshake record (0x16)
    tls_fault_activations: int = 0  # ClientHellos a terminating proxy's TLS fault met (`HandshakeFault`)
    directions: dict[Stream, DirectionTally] = field(
        default_factory=lambda: {stream: DirectionTally() for stream in STREAMS}
    )
    toxics: dict[str, ToxicTally] = field(default_factory=dict)

    def toxic(self, name: str, type: str) -> ToxicTally:
        """The counters of toxic `name`, created on first use (a re-added name continues counting)."""
        counters = self.toxics.get(name)
        if counters is None or counters.type != type:
            counters = self.toxics[name] = ToxicTally(type)
        return counters

    def bytes_received(self, stream: Stream) -> int:
        return self.directions[stream].received

    def bytes_sent(self, stream: Stream) -> int:
        return self.directions[stream].sent

    def to_json(self) -> dict[str, object]:
        return {
            "connections_accepted": self.connections_accepted,
            "connections_active": self.connections_active,
            "upstream_failures": self.upstream_failures,
            "tls_client_hellos": self.tls_client_hellos,
            "tls_fault_activations": self.tls_fault_activations,
            "bytes": {stream: counters.to_json() for stream, counters in self.directions.items()},
            "toxics": {name: counters.to_json() for name, counters in self.toxics.items()},
        }
