"""A handle on one toxic, plus the argument checks every toxic call shares.

Checks here only refuse what Toxiproxy itself would refuse (a wrong stream, toxicity outside 0..1,
non-integer attributes), so the user learns the valid choices before a request is sent; anything
else (an unknown toxic type on a server with custom toxics, say) goes to the server, which has the
final word.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from types import TracebackType
from typing import Any

from pytest_ipc.client.api import ToxiproxyTransport, api_path
from pytest_ipc.client.errors import InvalidArgument, ProxyNotFound, ToxicNotFound
from pytest_ipc.toxiproxy.model import STREAMS, Stream


def check_stream(stream: object) -> Stream:
    if stream not in STREAMS:
        raise InvalidArgument(f"stream must be one of {', '.join(map(repr, STREAMS))}, got {stream!r}")
    return stream  # narrowed to Stream by the membership test


def check_toxicity(toxicity: object) -> float:
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not 0.0 <= toxicity <= 1.0:
        raise InvalidArgument(f"toxicity is a probability from 0.0 to 1.0, got {toxicity!r}")
    return float(toxicity)


def check_attributes(attributes: Mapping[str, object]) -> dict[str, int]:
    """Toxiproxy's attributes are Go integers: it rejects 1.5 and even 1000.0, and so do we."""
    for name, value in attributes.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"toxic attribute {name!r} must be an integer, got {value!r}")
    return dict(attributes)  # type: ignore[arg-type]  # every value checked above


class Toxic:
    """One toxic as the server last described it; leaving a ``with`` block removes it."""

    def __init__(self, api: ToxiproxyTransport, proxy_name: str, data: Mapping[str, Any]) -> None:
        self._api = api
        self.proxy_name = proxy_name
        self._load(data)

    def _load(self, data: Mapping[str, Any]) -> None:
        self.name: str = data["name"]
        self.type: str = data["type"]
        self.stream: Stream = data.get("stream") or "downstream"
        self.toxicity: float = float(data.get("toxicity", 1.0))
        self.attributes: dict[str, int] = dict(data.get("attributes") or {})

    @property
    def _path(self) -> str:
        return api_path("proxies", self.proxy_name, "toxics", self.name)

    def update(self, *, toxicity: float | None = None, **attributes: int) -> Toxic:
        """Change attributes and/or toxicity in place; live connections feel it at once."""
        body: dict[str, object] = {"attributes": check_attributes(attributes)}
        if toxicity is not None:
            body["toxicity"] = check_toxicity(toxicity)
        self._load(self._api.update(self._path, body))
        return self

    def remove(self) -> None:
        self._api.delete(self._path)

    def __enter__(self) -> Toxic:
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
