"""The data the admin API and the proxy engine share: toxic types, their attributes, one toxic."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

VERSION = "2.12.0"

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")


@dataclass(frozen=True)
class WireUnit:
    """How a value in pytest-ipc's Python units is written in Toxiproxy's JSON, which takes integers.

    Python: seconds as floats, sizes in bytes, rates in bytes per second (the project's
    conventions); wire: whatever the Go toxic declares (ms, µs, KB/s, bytes).
    """

    wire: str  # the JSON's unit, for messages: "ms"
    python: str  # the Python API's unit: "s"
    scale: Fraction  # wire value = Python value x scale
    integral: bool  # Python values are ints (sizes, rates), not float seconds

    def to_wire(self, value: float) -> int:
        """The nearest wire integer, halves up (0.0004 s is 0 ms: the caller refuses what rounds to 0)."""
        return math.floor(Fraction(value) * self.scale + Fraction(1, 2))

    def from_wire(self, value: int) -> float | int:
        """The Python value, exactly: 300 ms is 0.3 s, 5 KB/s is 5000 bytes/s."""
        python = Fraction(value) / self.scale
        return int(python) if self.integral else float(python)

    @property
    def resolution(self) -> Fraction:
        """One wire unit in Python units: 0.001 s for ms, 1000 bytes/s for KB/s."""
        return 1 / self.scale


MILLISECONDS = WireUnit("ms", "s", Fraction(1000), integral=False)
MICROSECONDS = WireUnit("µs", "s", Fraction(1_000_000), integral=False)
KB_PER_SECOND = WireUnit("KB/s", "bytes/s", Fraction(1, 1000), integral=True)  # Toxiproxy's KB is 1000 bytes
BYTES = WireUnit("bytes", "bytes", Fraction(1), integral=True)


@dataclass(frozen=True)
class Attribute:
    """One integer attribute of a toxic type: its Python name and unit, its JSON name and Go type."""

    name: str  # in pytest-ipc's Python API (`proxy.limit_data(size=...)`, `toxic.attributes["size"]`)
    wire_name: str  # in Toxiproxy's JSON
    go_type: str  # "int64" or "int": Toxiproxy's decoding errors quote it
    unit: WireUnit


@dataclass(frozen=True)
class ToxicType:
    """One toxic type as Toxiproxy declares it: the Go struct name and its integer attributes.

    The Go names matter because Toxiproxy's decoding errors quote them, and clients compare bodies.
    This table is the one place that knows each attribute's wire unit: the client converts through
    it, the engine works in wire units throughout.
    """

    name: str
    go_struct: str
    attributes: tuple[Attribute, ...] = ()

    @property
    def wire_names(self) -> tuple[str, ...]:
        return tuple(attribute.wire_name for attribute in self.attributes)


def _same(name: str, go_type: str, unit: WireUnit) -> Attribute:
    """An attribute whose Python name is its JSON name."""
    return Attribute(name, name, go_type, unit)


TOXIC_TYPES: dict[str, ToxicType] = {
    toxic.name: toxic
    for toxic in (
        ToxicType(
            "latency", "LatencyToxic", (_same("latency", "int64", MILLISECONDS), _same("jitter", "int64", MILLISECONDS))
        ),
        ToxicType("bandwidth", "BandwidthToxic", (_same("rate", "int64", KB_PER_SECOND),)),
        ToxicType("slow_close", "SlowCloseToxic", (_same("delay", "int64", MILLISECONDS),)),
        ToxicType("timeout", "TimeoutToxic", (_same("timeout", "int64", MILLISECONDS),)),
        ToxicType("reset_peer", "ResetToxic", (_same("timeout", "int64", MILLISECONDS),)),
        ToxicType(
            "slicer",
            "SlicerToxic",
            (
                _same("average_size", "int", BYTES),
                _same("size_variation", "int", BYTES),
                _same("delay", "int", MICROSECONDS),
            ),
        ),
        ToxicType("limit_data", "LimitDataToxic", (Attribute("size", "bytes", "int64", BYTES),)),
        ToxicType("noop", "NoopToxic"),  # passes data unchanged; every 2.x server registers it
    )
}


@dataclass
class ToxicConfig:
    """One toxic on one proxy as the server holds it, in wire units; `to_json` is the API's shape."""

    name: str
    type: str
    stream: str = "downstream"  # as the client spelt it: Toxiproxy echoes "DOWNSTREAM" back unchanged
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)

    @property
    def direction(self) -> Stream:
        """The chain the toxic sits in: `stream` read without regard to case, as Toxiproxy does."""
        return "upstream" if self.stream.lower() == "upstream" else "downstream"

    def to_json(self) -> dict[str, object]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }
