"""The local backend for brokers: a private broker from the binary on PATH.

Each broker gets its own 0700 directory (config, data, logs), ports picked on loopback once per
session (a restart comes back on the same ones, with the same data), and random credentials.
Subclasses say only what is specific to their broker: the binary, the config files, the probes.
"""

from __future__ import annotations

import secrets
import socket
from abc import ABC, abstractmethod
from pathlib import Path

from pytest_ipc._net import free_port
from pytest_ipc.backends.local import LocalProcess, make_private_dir, remove_private_dir
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.handles import Isolation


class LocalBroker(ABC):
    """Both the backend (`start`/`stop` for the session) and the runtime (crash controls)."""

    name = "local"
    kind: BrokerKind
    port_names: tuple[str, ...] = ("main",)

    def __init__(self) -> None:
        self.username = f"ipc-{secrets.token_hex(4)}"
        self.password = secrets.token_hex(16)
        self.ports: dict[str, int] = {}
        self._base: Path | None = None
        self._helpers: list[LocalProcess] = []
        self._server: LocalProcess | None = None

    # -- what a broker kind provides -------------------------------------------------------------

    @abstractmethod
    def missing_reason(self) -> str | None:
        """None when the binaries are installed, otherwise what is missing and how to install it."""

    @abstractmethod
    def configure(self, base: Path) -> None:
        """Write the broker's config files into `base` (ports and credentials are set by now)."""

    @abstractmethod
    def server_process(self, base: Path) -> LocalProcess:
        """The broker itself, with a readiness probe that passes only when clients are served."""

    def helper_processes(self, base: Path) -> list[LocalProcess]:
        """Processes the broker needs that live for the whole session, across restarts (epmd)."""
        return []

    @property
    @abstractmethod
    def endpoint(self) -> BrokerEndpoint: ...

    @abstractmethod
    def isolation(self) -> Isolation: ...

    # -- the backend -------------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        return self.missing_reason()

    @property
    def base(self) -> Path:
        if self._base is None:
            raise RuntimeError(f"local {self.kind} is not started")
        return self._base

    def start(self) -> LocalBroker:
        self._base = make_private_dir(self.kind)
        self.ports = {name: free_port() for name in self.port_names}
        try:
            self.configure(self._base)
            self._helpers = self.helper_processes(self._base)
            for helper in self._helpers:
                helper.start()
            self._server = self.server_process(self._base)
            self._server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill everything and remove the directory: the data goes with it, no graceful stop needed."""
        if self._server is not None:
            self._server.kill()
        for helper in reversed(self._helpers):
            helper.kill()
        if self._base is not None:
            remove_private_dir(self._base)
        self._server, self._helpers, self._base = None, [], None

    # -- the runtime -------------------------------------------------------------------------------

    @property
    def process(self) -> LocalProcess:
        if self._server is None:
            raise RuntimeError(f"local {self.kind} is not started")
        return self._server

    def stop_broker(self) -> None:
        self.process.stop()

    def kill_broker(self) -> None:
        self.process.kill()

    def start_broker(self) -> None:
        self.process.start()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ports={self.ports}, base={self._base})"


def accepts_connections(host: str, port: int) -> bool:
    """One TCP connect attempt: the cheapest readiness probe, for brokers ready once they listen."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True
