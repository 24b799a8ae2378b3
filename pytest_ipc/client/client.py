"""The entry point: a typed client for any Toxiproxy API (ours, a real one, or one in a container)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_ipc.client._closing import ClosesOnExit
from pytest_ipc.client.api import ToxiproxyTransport, api_path
from pytest_ipc.client.errors import UnsupportedByServer
from pytest_ipc.client.proxy import Proxy
from pytest_ipc.client.tls import TlsTermination

DEFAULT_URL = "http://127.0.0.1:8474"

Address = str | tuple[str, int]


def host_port(address: Address) -> str:
    """ "host:port" for Toxiproxy, from either form of `Address` (IPv6 hosts get brackets)."""
    if isinstance(address, str):
        return address
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ToxiproxyClient(ClosesOnExit):
    """Talks to one Toxiproxy server; each instance has its own URL (no process-wide state)."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 5.0) -> None:
        self._api = ToxiproxyTransport(url, timeout)

    @property
    def url(self) -> str:
        return self._api.url

    def version(self) -> str:
        """The server's version, e.g. "2.12.0" (older Toxiproxy answered plain text, newer JSON)."""
        text = self._api.get_text("/version")
        try:
            return str(json.loads(text)["version"])
        except (ValueError, TypeError, KeyError):
            return text.strip()

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy(self._api, data) for name, data in self._api.get("/proxies").items()}

    def get_proxy(self, name: str) -> Proxy:
        return Proxy(self._api, self._api.get(api_path("proxies", name)))

    def create_proxy(
        self,
        name: str,
        upstream: Address,
        listen: Address = "127.0.0.1:0",
        enabled: bool = True,
        *,
        tls: TlsTermination | None = None,
    ) -> Proxy:
        """Create a proxy; the default listen address lets the server pick a free loopback port.

        Addresses are "host:port" strings or ``(host, port)`` tuples such as `Proxy.address`. `tls`
        makes the proxy end clients' TLS and open TLS upstream, so toxics see plaintext (pytest-ipc's
        embedded server only: another server raises `UnsupportedByServer`); without it TLS passes
        through untouched.
        """
        body: dict[str, object] = {"name": name, "upstream": host_port(upstream), "listen": host_port(listen), "enabled": enabled}
        if tls is not None:
            body["tls"] = tls.to_wire()
        data = self._api.post("/proxies", body)
        if tls is not None and "tls" not in data:  # a server without the extension ignored it: a pass-through proxy
            self.delete_proxy(name)
            raise UnsupportedByServer(
                "this Toxiproxy server cannot terminate TLS (it ignored the proxy's tls settings): only pytest-ipc's "
                "embedded server can; use --ipc-toxiproxy-backend embedded, or let TLS pass through (no tls=)",
                request=f"POST /proxies {name}",
            )
        proxy = Proxy(self._api, data)
        proxy.termination = tls
        return proxy

    def populate(self, proxies: Iterable[Mapping[str, object]]) -> list[Proxy]:
        """Create or replace many proxies at once (unchanged ones keep their toxics), like a config file.

        Each entry is ``{"name", "upstream", "listen"?, "enabled"?}``.
        """
        answer = self._api.post("/populate", [dict(proxy) for proxy in proxies])
        return [Proxy(self._api, data) for data in answer.get("proxies") or []]

    def reset(self) -> None:
        """Enable every proxy and remove every toxic on the server (other users' too, if shared)."""
        self._api.post("/reset")

    def delete_proxy(self, name: str) -> None:
        self._api.delete(api_path("proxies", name))

    def close(self) -> None:
        self._api.close()

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.url!r})"


@dataclass(frozen=True)
class ToxiproxyServer:
    """A running Toxiproxy API as a backend provides it: where it is, a client for it, and whence."""

    url: str
    client: ToxiproxyClient
    backend: str
