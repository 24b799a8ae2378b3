"""The data the admin API and the proxy engine share: toxic types, their attributes, one toxic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

VERSION = "2.12.0"

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")


@dataclass(frozen=True)
class ToxicType:
    """One toxic type as Toxiproxy declares it: the Go struct name and its integer attributes.

    The Go names matter because Toxiproxy's decoding errors quote them, and clients compare bodies.
    """

    name: str
    go_struct: str
    attributes: dict[str, str]  # JSON attribute name -> Go integer type ("int64" or "int")


TOXIC_TYPES: dict[str, ToxicType] = {
    toxic.name: toxic
    for toxic in (
        ToxicType("latency", "LatencyToxic", {"latency": "int64", "jitter": "int64"}),
        ToxicType("bandwidth", "BandwidthToxic", {"rate": "int64"}),
        ToxicType("slow_close", "SlowCloseToxic", {"delay": "int64"}),
        ToxicType("timeout", "TimeoutToxic", {"timeout": "int64"}),
        ToxicType("reset_peer", "ResetToxic", {"timeout": "int64"}),
        ToxicType("slicer", "SlicerToxic", {"average_size": "int", "size_variation": "int", "delay": "int"}),
        ToxicType("limit_data", "LimitDataToxic", {"bytes": "int64"}),
    )
}


@dataclass
class Toxic:
    """One toxic on one proxy, in the shape Toxiproxy's API returns it."""

    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }
