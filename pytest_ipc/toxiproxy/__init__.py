"""A Toxiproxy-compatible TCP fault proxy: the engine (proxy.py and friends) and its admin API.

`EmbeddedToxiproxy` runs the whole server in-process; `python -m pytest_ipc.toxiproxy` runs it as a
standalone command that takes the real `toxiproxy-server`'s flags. The server is imported on first
use, so the client can read `model` (the toxic types and their wire units) without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ipc.toxiproxy.server import ConfigError, EmbeddedToxiproxy

__all__ = ["ConfigError", "EmbeddedToxiproxy"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from pytest_ipc.toxiproxy import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
