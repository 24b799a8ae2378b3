"""A Toxiproxy-compatible server inside the test process: the admin API plus its proxies.

It runs on its own `LoopThread`, so a test's blocking sockets never stall a proxy, and it starts in
milliseconds, so every xdist worker (or every test, if it likes) can have a private one::

    with EmbeddedToxiproxy() as server:
        httpx.post(f"{server.url}/proxies", json={"name": "db", "upstream": "127.0.0.1:5432"})
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._http import HttpServer, Limits
from pytest_ipc._loop import LoopThread
from pytest_ipc._net import LOOPBACK
from pytest_ipc.toxiproxy.api import ToxiproxyApi, protocol_error
from pytest_ipc.toxiproxy.collection import ProxyCollection
from pytest_ipc.toxiproxy.proxy import TcpProxy

#: Upstream reads a request within 15 s and keeps idle keep-alive connections for 60 s; it reads
#: bodies of any size, 1 MiB holds a /populate of some 15,000 proxies.
LIMITS = Limits(max_body=1 << 20, head_timeout=15.0, idle_timeout=60.0)


NOT_RUNNING = "EmbeddedToxiproxy is not running; call start() first"


class ConfigError(IpcUsageError):
    """The `config` file could not be read or populated; the message names the file and the reason."""


class EmbeddedToxiproxy:
    """Toxiproxy's admin API on host:port (port 0 picks a free one), with proxies from `config`.

    `config` is a JSON file in /populate's format (the real server's `-config`); `seed` makes
    toxicity draws repeatable; the metrics flags switch on `GET /metrics` as the real server's do.
    `allowed_hosts` are the names, besides IP literals and localhost, a Host header may give: the
    API refuses others with 403, so a web page whose name was rebound to loopback cannot drive it.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        config: str | Path | None = None,
        seed: int | None = None,
        proxy_metrics: bool = False,
        runtime_metrics: bool = False,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self._requested = (host, port)
        self.allowed_hosts = tuple(allowed_hosts)
        self.config = Path(config) if config is not None else None
        self.seed = seed
        self.proxy_metrics = proxy_metrics
        self.runtime_metrics = runtime_metrics
        self._loop_thread: LoopThread | None = None
        self._http: HttpServer | None = None
        self._collection: ProxyCollection | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind the API (and the config's proxies) and return once it answers; idempotent."""
        if self._loop_thread is not None:
            return self
        self._loop_thread = LoopThread(f"toxiproxy-api-{self._requested[1] or 'auto'}").start()
        try:
            self._loop_thread.run(self._start())
            if self.config is not None:
                self.load_config(self.config)
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        self._collection = ProxyCollection(self.seed)
        api = ToxiproxyApi(self._collection, proxy_metrics=self.proxy_metrics, runtime_metrics=self.runtime_metrics)
        host, port = self._requested
        self._http = HttpServer(
            api.handle, host=host, port=port, limits=LIMITS, allowed_hosts=self.allowed_hosts, on_error=protocol_error
        )
        await self._http.start()

    def load_config(self, config: str | Path) -> None:
        """Create the proxies of a /populate-style JSON file, as the real server's `-config` does."""
        path = Path(config)
        try:
            body = path.read_bytes()
        except OSError as error:
            raise ConfigError(f"toxiproxy config {path}: {error.strerror or error}") from None
        loop_thread = self.loop_thread  # a clear error when the server is not running
        assert self._collection is not None
        result = loop_thread.run(self._collection.populate(body))
        if result.error is not None:
            raise ConfigError(f"toxiproxy config {path}: {result.error.message}")

    def stop(self) -> None:
        """Stop every proxy, close every connection and join the loop thread; idempotent."""
        loop_thread, self._loop_thread = self._loop_thread, None
        if loop_thread is None:
            return
        try:
            if loop_thread.running:
                loop_thread.run(self._stop())
        finally:
            loop_thread.stop()

    async def _stop(self) -> None:
        if self._http is not None:
            await self._http.stop()
        if self._collection is not None:
            await self._collection.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- where it listens ------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._server().address[0]

    @property
    def port(self) -> int:
        return self._server().address[1]

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = LOOPBACK
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def loop_thread(self) -> LoopThread:
        """The thread running the API and the proxies (for callers that drive the engine directly)."""
        if self._loop_thread is None:
            raise RuntimeError(NOT_RUNNING)
        return self._loop_thread

    def proxy(self, name: str) -> TcpProxy:
        """The engine's proxy called `name`, for the controls only a caller in this process has
        (`TcpProxy.cut_source`; run them on `loop_thread`). An unknown name is a usage error naming the proxies."""
        if self._collection is None or self._loop_thread is None:
            raise RuntimeError(NOT_RUNNING)
        try:
            return self._collection.proxies[name]
        except KeyError:
            known = ", ".join(sorted(self._collection.proxies)) or "none"
            raise IpcUsageError(f"no proxy {name!r} in this Toxiproxy; its proxies: {known}") from None

    @property
    def running(self) -> bool:
        return self._loop_thread is not None

    def _server(self) -> HttpServer:
        if self._http is None or self._loop_thread is None:
            raise RuntimeError(NOT_RUNNING)
        return self._http

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"EmbeddedToxiproxy({where})"
