"""A Toxiproxy-compatible TCP fault proxy: the engine (proxy.py and friends) and its admin API.

`EmbeddedToxiproxy` runs the whole server in-process; `python -m pytest_ipc.toxiproxy` runs it as a
standalone command that takes the real `toxiproxy-server`'s flags.
"""

from pytest_ipc.toxiproxy.server import ConfigError, EmbeddedToxiproxy

__all__ = ["ConfigError", "EmbeddedToxiproxy"]
