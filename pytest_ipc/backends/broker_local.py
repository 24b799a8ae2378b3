"""The ``local`` backend of a broker: a private broker from the binary on PATH.

Each broker gets its own 0700 directory (config, data, logs), ports on loopback reserved for the
whole session (a restart comes back on the same ones, with the same data), and random credentials.
Subclasses say only what is specific to their broker: the binary, the config files, the probes.

Ports: a broker binary must be told its ports, so choosing a port and the broker binding it are
seconds apart (RabbitMQ). Each port is reserved (`reserve_port`) from before the broker is configured
until it is stopped, so no other worker can take it meanwhile or while the broker restarts. A start
that still loses a port (to a program that binds fixed ports with SO_REUSEADDR) is retried on fresh
ports: someone else listens on one of them before the start or once the broker is ready (probes that
only connect would take it for our broker), or the broker said "address in use", or someone listens
on one of its ports once it is gone (epmd exits silently).
"""

from __future__ import annotations

import os
import secrets
import socket
from abc import ABC, abstractmethod
from collections.abc import Collection
from pathlib import Path

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK, accepts_connections
from pytest_ipc._proc import PROC, members_of_groups
from pytest_ipc.backends.local import (
    LocalProcess,
    ProcessStartError,
    kill_together,
    make_private_dir,
    remove_private_dir,
    reserve_port,
)
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.handles import Isolation
from pytest_ipc.brokers.tls import TLS_PORT, ListenerTls

#: Starts on fresh ports before a lost port race becomes the error.
PORT_ATTEMPTS = 3
TCP_LISTEN = "0A"


def listeners(ports: Collection[int]) -> dict[str, int]:
    """The listening TCP sockets on `ports`, anyone's: socket inode -> port (/proc/net/tcp, tcp6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == TCP_LISTEN and port in ports:
                found[fields[9]] = port
    return found


def sockets_of_groups(groups: Collection[int]) -> set[str]:
    """Inodes of the sockets that the members of process groups `groups` hold."""
    inodes: set[str] = set()
    for pid, _ in members_of_groups(groups):
        try:
            fds = list((PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue  # gone meanwhile
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile (a booting VM opens and closes files all the time): the others count
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def answering(ports: Collection[int]) -> list[int]:
    """The ports on which something accepts connections (on loopback a connect is answered at once)."""
    return [port for port in ports if accepts_connections(LOOPBACK, port)]


class PortTaken(ProcessStartError):
    """Another program listens on a port we chose: start again on fresh ports."""

    @property
    def address_in_use(self) -> bool:
        return True


class LocalBroker(ABC):
    """Both the backend (`start`/`stop` for the session) and the runtime (crash controls)."""

    name = "local"
    kind: BrokerKind
    port_names: tuple[str, ...] = ("main",)
    #: Whether a TLS listener gets a port of its own (NATS serves TLS on its one client port instead).
    tls_port_of_its_own = True

    def __init__(self, tls: ListenerTls | None = None) -> None:
        self.tls = tls
        if tls is not None and self.tls_port_of_its_own:
            self.port_names = (*self.port_names, TLS_PORT)
        self.username = f"ipc-{secrets.token_hex(4)}"
        self.password = secrets.token_hex(16)
        self.ports: dict[str, int] = {}
        self._reservations: list[socket.socket] = []
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

    def tls_ports(self) -> dict[str, int]:
        """The TLS listener's entry of `BrokerEndpoint.extra_ports` (empty without TLS)."""
        if self.tls is None:
            return {}
        return {TLS_PORT: self.ports[TLS_PORT if self.tls_port_of_its_own else self.port_names[0]]}

    def tls_ready(self) -> bool:
        """True when the TLS listener (if any) accepts connections: brokers open it next to the main one."""
        return self.tls is None or accepts_connections(LOOPBACK, self.tls_ports()[TLS_PORT])

    # -- the backend -------------------------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        return self.missing_reason()

    @property
    def base(self) -> Path:
        if self._base is None:
            raise IpcUsageError(f"local {self.kind} is not started")
        return self._base

    def start(self) -> LocalBroker:
        """Start the broker (and its helpers) on fresh reserved ports; retried when a port was lost."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start_once()
            except ProcessStartError as error:
                ports = self.ports.values()
                self.stop()  # after which nothing of ours listens: anyone who answers took a port
                if attempt == PORT_ATTEMPTS or not (error.address_in_use or answering(ports)):
                    raise
            except BaseException:
                self.stop()
                raise
            else:
                return self
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _start_once(self) -> None:
        self._base = make_private_dir(self.kind)
        self._reservations = [reserve_port() for _ in self.port_names]
        self.ports = {name: port.getsockname()[1] for name, port in zip(self.port_names, self._reservations, strict=True)}
        if taken := answering(self.ports.values()):  # nothing of ours runs yet: that is someone else
            raise PortTaken(f"local {self.kind}: another program listens on port {', '.join(map(str, taken))}")
        self.configure(self._base)
        self._helpers = self.helper_processes(self._base)
        for helper in self._helpers:
            helper.start()
        self._server = self.server_process(self._base)
        self._server.start()
        self._check_listeners_are_ours()

    def _check_listeners_are_ours(self) -> None:
        """Raise PortTaken when something other than our processes listens on one of our ports: a
        probe that only connects (or a broker that answers anyone's health check) would have taken
        that program for our broker, which itself failed to bind."""
        processes = [*self._helpers, self._server]
        groups = {pid for process in processes if process is not None and (pid := process.pid) is not None}
        found = listeners(self.ports.values())
        ours = sockets_of_groups(groups) if found else set()
        taken = sorted({port for inode, port in found.items() if inode not in ours})
        if taken:
            raise PortTaken(f"local {self.kind}: another program listens on port {', '.join(map(str, taken))}")

    def stop(self) -> None:
        """Kill everything, remove the directory (the data goes with it, no graceful stop needed) and
        give the ports back."""
        kill_together([process for process in (self._server, *reversed(self._helpers)) if process is not None])
        if self._base is not None:
            remove_private_dir(self._base)
        for reservation in self._reservations:
            reservation.close()
        self._server, self._helpers, self._base, self._reservations = None, [], None, []

    # -- the runtime -------------------------------------------------------------------------------

    @property
    def process(self) -> LocalProcess:
        if self._server is None:
            raise IpcUsageError(f"local {self.kind} is not started")
        return self._server

    def stop_broker(self) -> None:
        self.process.stop()

    def kill_broker(self) -> None:
        self.process.kill()

    def start_broker(self) -> None:
        self.process.start()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ports={self.ports}, base={self._base})"

