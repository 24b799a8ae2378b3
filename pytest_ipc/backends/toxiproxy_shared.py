"""The fault proxy's server kept between sessions (``--ipc-reuse``): run by a keeper (`pytest_ipc._shared`).

The keeper starts the server the session's backend names (``embedded``: our server in the keeper's
process, on the event loop the session chose; ``container``: the Toxiproxy image on the host's
network) and writes its API's URL. Each session's ``toxiproxy`` fixture creates its proxies there,
named with its lease's id, and deletes them after each test as on a server of its own; the proxies of
a session that died before deleting them go when the keeper sees its lease go (`Kept.released`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from pytest_ipc._shared import Kept, Lease

if TYPE_CHECKING:
    from pytest_ipc.backends import Backend
    from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer


def proxy_marker(lease_id: str) -> str:
    """What the names of the proxies of the lease's user carry (its ``toxiproxy`` fixture's token)."""
    return f"-{lease_id}-t"


class KeptToxiproxy(Kept):
    """The fault proxy's server in the keeper; `released` deletes the proxies of users that are gone."""

    def __init__(self, backend: str, image: str, loop: str | None) -> None:
        from pytest_ipc import _loop_choice
        from pytest_ipc.backends.toxiproxy_container import ToxiproxyContainerBackend

        self.backend: Backend[ToxiproxyServer]
        if backend == "container":
            self.backend = ToxiproxyContainerBackend(image)
        else:
            from pytest_ipc.backends.toxiproxy_embedded import EmbeddedToxiproxyBackend

            _loop_choice.session_choice = loop  # the session's --ipc-event-loop
            self.backend = EmbeddedToxiproxyBackend()
        server = self.backend.start()
        self.client: ToxiproxyClient = server.client
        self.state: dict[str, Any] = {"kind": "toxiproxy", "backend": server.backend, "url": server.url}
        if isinstance(self.backend, ToxiproxyContainerBackend):
            self.state["container_id"] = self.backend.container_id

    def released(self, lease_ids: set[str]) -> None:
        from pytest_ipc.client.errors import ToxiproxyError

        markers = [proxy_marker(lease_id) for lease_id in lease_ids]
        with contextlib.suppress(ToxiproxyError):  # the next release tries again
            for proxy in self.client.proxies().values():
                if any(marker in proxy.name for marker in markers):
                    with contextlib.suppress(ToxiproxyError):
                        proxy.delete()

    def stop(self) -> None:
        self.backend.stop()


def keep_toxiproxy(key: str, recipe: dict[str, Any]) -> Kept:
    """The keeper's start of the kept fault proxy server."""
    return KeptToxiproxy(recipe["backend"], recipe.get("image", ""), recipe.get("loop"))


def attach(lease: Lease) -> ToxiproxyServer:
    """The kept server, as a session's ``toxiproxy_server``: a client of its own on the keeper's URL."""
    from pytest_ipc.client.client import ToxiproxyClient, ToxiproxyServer

    url = lease.state["url"]
    return ToxiproxyServer(url, ToxiproxyClient(url), lease.state["backend"])


__all__ = ["KeptToxiproxy", "attach", "keep_toxiproxy", "proxy_marker"]
