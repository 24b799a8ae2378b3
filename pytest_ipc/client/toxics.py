"""A handle on one toxic, plus the argument checks and unit conversions every toxic call shares.

Attributes are in pytest-ipc's units (seconds, bytes, bytes per second) on this side and in
Toxiproxy's (ms, µs, KB/s) on the wire. `to_wire` and `from_wire` are the only crossings, both
driven by `model.TOXIC_TYPES`, so a toxic's units are declared once. Checks refuse what the server
would refuse or silently misread (a wrong stream, toxicity outside 0..1, a value below the wire
unit's resolution), so the user learns the valid choices before a request is sent; anything else
(an unknown toxic type on a server with custom toxics, say) goes to the server, which has the final
word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import suppress
from types import TracebackType
from typing import Any, Self, cast

from pytest_ipc.client.api import ToxiproxyTransport, api_path
from pytest_ipc.client.errors import InvalidArgument, ProxyNotFound, ToxicNotFound
from pytest_ipc.toxiproxy.model import STREAMS, TOXIC_TYPES, Attribute, Stream


def check_stream(stream: object) -> Stream:
    if stream not in STREAMS:
        raise InvalidArgument(f"stream must be one of {', '.join(map(repr, STREAMS))}, got {stream!r}")
    return stream  # narrowed to Stream by the membership test


def check_toxicity(toxicity: object) -> float:
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not 0.0 <= toxicity <= 1.0:
        raise InvalidArgument(f"toxicity is a probability from 0.0 to 1.0, got {toxicity!r}")
    return float(toxicity)


def to_wire(toxic_type: str, attributes: Mapping[str, object]) -> dict[str, object]:
    """The JSON attributes for `attributes` given in Python units; a custom type's pass through as given."""
    declared = TOXIC_TYPES.get(toxic_type)
    if declared is None:
        return dict(attributes)
    by_name = {attribute.name: attribute for attribute in declared.attributes}
    wire: dict[str, object] = {}
    for name, value in attributes.items():
        attribute = by_name.get(name)
        if attribute is None:
            valid = ", ".join(by_name) or "none"
            raise InvalidArgument(f"a {toxic_type} toxic has no attribute {name!r}; its attributes: {valid}")
        wire[attribute.wire_name] = _wire_value(toxic_type, attribute, value)
    return wire


def _wire_value(toxic_type: str, attribute: Attribute, value: object) -> int:
    unit, what = attribute.unit, f"{toxic_type} toxic: {attribute.name}"
    if unit.integral:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"{what} must be a whole number of {unit.python} >= 0, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidArgument(f"{what} must be seconds >= 0 (an int or float), got {value!r}")
    wire = unit.to_wire(value)
    if wire == 0 and value != 0:
        resolution = unit.resolution
        shown = int(resolution) if resolution.denominator == 1 else float(resolution)
        raise InvalidArgument(
            f"{what}={value!r} {unit.python} is below Toxiproxy's resolution of 1 {unit.wire} "
            f"({shown} {unit.python}) and would be sent as 0; give 0, or at least {shown} {unit.python}"
        )
    return wire


def from_wire(toxic_type: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """`attributes` as the server sent them, in Python names and units; unknown ones stay as sent."""
    declared = TOXIC_TYPES.get(toxic_type)
    by_wire_name = {attribute.wire_name: attribute for attribute in declared.attributes} if declared else {}
    converted: dict[str, Any] = {}
    for wire_name, value in attributes.items():
        attribute = by_wire_name.get(wire_name)
        if attribute is None or isinstance(value, bool) or not isinstance(value, int):
            converted[wire_name] = value  # a custom toxic's, or a newer server's: not ours to read
        else:
            converted[attribute.name] = attribute.unit.from_wire(value)
    return converted


class Toxic:
    """One toxic as the server last described it; leaving a ``with`` block removes it.

    `attributes` are in pytest-ipc's units (seconds, bytes, bytes per second), as `update` takes them.
    """

    def __init__(self, api: ToxiproxyTransport, proxy_name: str, data: Mapping[str, Any]) -> None:
        self._api = api
        self.proxy_name = proxy_name
        self._load(data)

    def _load(self, data: Mapping[str, Any]) -> None:
        self.name: str = data["name"]
        self.type: str = data["type"]
        # Toxiproxy echoes the stream as it was sent ("DOWNSTREAM"); the direction is what counts here.
        self.stream: Stream = cast(Stream, str(data.get("stream") or "downstream").lower())
        self.toxicity: float = float(data.get("toxicity", 1.0))
        self.attributes: dict[str, Any] = from_wire(self.type, data.get("attributes") or {})

    @property
    def _path(self) -> str:
        return api_path("proxies", self.proxy_name, "toxics", self.name)

    def update(self, *, toxicity: float | None = None, **attributes: object) -> Toxic:
        """Change attributes (names and units as in `attributes`) or toxicity; live connections feel it at once."""
        body: dict[str, object] = {"attributes": to_wire(self.type, attributes)}
        if toxicity is not None:
            body["toxicity"] = check_toxicity(toxicity)
        self._load(self._api.update(self._path, body))
        return self

    def remove(self) -> None:
        self._api.delete(self._path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with suppress(ToxicNotFound, ProxyNotFound):  # already gone: removed in the block, or the proxy deleted
            self.remove()

    def __repr__(self) -> str:
        return (
            f"Toxic({self.name!r}, type={self.type!r}, stream={self.stream!r}, "
            f"toxicity={self.toxicity}, attributes={self.attributes}, proxy={self.proxy_name!r})"
        )
