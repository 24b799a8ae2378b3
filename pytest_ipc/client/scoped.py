"""A view of a Toxiproxy server that owns only the proxies it created, and deletes them when done.

This is what the ``toxiproxy`` fixture hands each test. It never resets or deletes anything it did
not create, so many tests, xdist workers or whole CI jobs can share one external server.
"""

from __future__ import annotations

import itertools
import re

from pytest_ipc.client._closing import ClosesOnExit
from pytest_ipc.client.client import Address, ToxiproxyClient
from pytest_ipc.client.errors import ProxyNotFound, ToxiproxyError
from pytest_ipc.client.proxy import Proxy
from pytest_ipc.client.tls import TlsTermination

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_.]+")


class ScopedToxiproxy(ClosesOnExit):
    """Creates proxies named ``<prefix>-<n>`` on a shared client and deletes them on `close()`."""

    def __init__(self, client: ToxiproxyClient, name_prefix: str) -> None:
        self.client = client
        self.name_prefix = _NOT_IN_NAMES.sub("-", name_prefix).strip("-") or "proxy"
        self.created: list[Proxy] = []
        self._numbers = itertools.count(1)

    @property
    def url(self) -> str:
        return self.client.url

    def create_proxy(
        self,
        upstream: Address,
        name: str | None = None,
        listen: Address = "127.0.0.1:0",
        enabled: bool = True,
        *,
        tls: TlsTermination | None = None,
    ) -> Proxy:
        """A proxy in front of `upstream` ("host:port" or a tuple); without a name, one unique to this scope.

        `tls` terminates TLS in the proxy (see `ToxiproxyClient.create_proxy`); by default it passes through.
        """
        proxy_name = name if name is not None else f"{self.name_prefix}-{next(self._numbers)}"
        proxy = self.client.create_proxy(proxy_name, upstream, listen=listen, enabled=enabled, tls=tls)
        self.created.append(proxy)
        return proxy

    def reset(self) -> None:
        """Like the server's /reset, limited to our proxies: all enabled again, no toxics, no TLS faults."""
        for proxy in self.created:
            proxy.remove_all_toxics()
            if proxy.terminates_tls:
                proxy.clear_tls_fault()
            proxy.enable()

    def close(self) -> None:
        """Delete every proxy we created (toxics and connections go with it); report failures at the end."""
        failures: list[str] = []
        while self.created:
            proxy = self.created.pop()
            try:
                proxy.delete()
            except ProxyNotFound:
                pass  # the test deleted it itself
            except ToxiproxyError as error:
                failures.append(f"{proxy.name}: {error}")
        if failures:
            raise ToxiproxyError("could not delete proxies: " + "; ".join(failures))

    def __repr__(self) -> str:
        return f"ScopedToxiproxy({self.url!r}, created={[proxy.name for proxy in self.created]})"
