"""NATS (with JetStream): a private server, and a subject prefix per test.

After the test, JetStream streams that belong to it are deleted: those named with its namespace
(KV buckets and object stores are streams named ``KV_<bucket>``/``OBJ_<bucket>``) and those bound to
subjects under its prefix.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.broker_container import ContainerRecipe
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.backends.container import ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.brokers.handles import NamePrefixes
from pytest_ipc.brokers.nats_users import NatsUsers
from pytest_ipc.brokers.tls import TLS_PORT, ListenerTls

INSTALL_HINT = "apt-get install nats-server"
RELOAD_TIMEOUT = 10.0


def nats_healthy(monitor_port: int, host: str = LOOPBACK) -> bool:
    import httpx  # here: loading httpx costs a session 0.1-0.3 s, a kept broker's attach too

    try:
        return httpx.get(f"http://{host}:{monitor_port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class NatsRequester:
    """A minimal synchronous NATS client for JetStream API requests.

    Cleanup runs between tests and must fail fast when the server is down; nats-py retries an
    initial connect forever, so this speaks the (line-based) protocol itself. On a TLS port
    (`endpoint.tls`) it upgrades after the server's INFO, as NATS clients do, with `context`.
    """

    def __init__(self, endpoint: BrokerEndpoint, timeout: float = 5.0, context: ssl.SSLContext | None = None) -> None:
        self._sock: socket.socket = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        self._reader = self._sock.makefile("rb")
        self._next_sid = 0
        self._readline()  # INFO
        if endpoint.tls:
            if context is None:
                raise BrokerError(f"NATS at {endpoint.host}:{endpoint.port} requires TLS, and no TLS context was given")
            self._reader.close()
            self._sock = context.wrap_socket(self._sock, server_hostname=endpoint.host)
            self._reader = self._sock.makefile("rb")
        options: dict[str, object] = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
        }
        if endpoint.username is not None:
            options.update(user=endpoint.username, **{"pass": endpoint.password})
        self._send(f"CONNECT {json.dumps(options)}\r\nPING\r\n".encode())
        while (line := self._readline()) != b"PONG":
            if line.startswith(b"-ERR"):
                raise BrokerError(f"NATS refused the connection: {line.decode(errors='replace')}")

    def _send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def _readline(self) -> bytes:
        line = self._reader.readline()
        if not line:
            raise BrokerError("NATS closed the connection")
        return line.rstrip(b"\r\n")

    def request(self, subject: str, payload: dict[str, object] | None = None) -> dict[str, Any] | None:
        """The JSON answer, or None when nobody answers (no JetStream on this server)."""
        self._next_sid += 1
        inbox = f"_INBOX.pytest_ipc_{secrets.token_hex(6)}"
        body = json.dumps(payload or {}).encode()
        self._send(f"SUB {inbox} {self._next_sid}\r\nPUB {subject} {inbox} {len(body)}\r\n".encode() + body + b"\r\n")
        while True:
            line = self._readline()
            if line == b"PING":
                self._send(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise BrokerError(f"NATS error: {line.decode(errors='replace')}")
            elif line.startswith((b"MSG ", b"HMSG ")):
                fields = line.split()
                data = self._reader.read(int(fields[-1]) + 2)[:-2]
                if line.startswith(b"HMSG "):
                    headers, data = data[: int(fields[-2])], data[int(fields[-2]) :]
                    if headers.startswith(b"NATS/1.0 503"):
                        return None
                return json.loads(data)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._reader.close()
        self._sock.close()


def delete_streams(endpoint: BrokerEndpoint, namespace: str, context: ssl.SSLContext | None = None) -> list[str]:
    """Delete the JetStream streams named with `namespace` or bound to subjects under it."""
    requester = NatsRequester(endpoint, context=context)
    deleted: list[str] = []
    prefix = f"{namespace}."
    try:
        offset = 0
        while (page := requester.request("$JS.API.STREAM.LIST", {"offset": offset})) is not None:
            streams = page.get("streams") or []
            for stream in streams:
                name, subjects = (
                    stream["config"]["name"],
                    stream["config"].get("subjects") or [],
                )
                if namespace in name or any(subject.startswith(prefix) for subject in subjects):
                    requester.request(f"$JS.API.STREAM.DELETE.{name}")
                    deleted.append(name)
            offset += len(streams)
            if not streams or offset >= page.get("total", 0):
                break
    finally:
        requester.close()
    return deleted


class SubjectPrefixes(NamePrefixes):
    """Subjects are ``<namespace>.<name>``; streams of the test are deleted after it (over TLS with
    the session CA's client certificate when the port speaks TLS only)."""

    def __init__(self, endpoint: BrokerEndpoint, tls: ListenerTls | None = None) -> None:
        super().__init__(endpoint)
        self._context = tls.client_context() if tls is not None else None

    def close(self, namespace: str, names: Collection[str]) -> None:
        delete_streams(self.endpoint, namespace, self._context)


class LocalNats(LocalBroker):
    """User/password auth, JetStream stored in its own dir (kept across restarts), monitor port for health.

    With TLS its one client port speaks TLS only (nats-server 2.9 cannot mix plaintext and TLS on a
    port): the endpoint says so (``tls=True``, a ``tls://`` URL), and cleanup speaks TLS too."""

    kind = "nats"
    port_names = ("main", "monitor")
    extra_users: tuple[str, ...] = ()
    """Entries of ``authorization.users`` besides the session's login (per-test users)."""
    _users: NatsUsers | None = None
    tls_port_of_its_own = False

    def missing_reason(self) -> str | None:
        return None if shutil.which("nats-server") else f"nats-server not found ({INSTALL_HINT})"

    @property
    def endpoint(self) -> BrokerEndpoint:
        return BrokerEndpoint(
            "nats",
            LOOPBACK,
            self.ports["main"],
            self.username,
            self.password,
            {"monitor": self.ports["monitor"], **self.tls_ports()},
            tls=self.tls is not None,
        )

    def configure(self, base: Path) -> None:
        (base / "nats.conf").write_text(
            f'listen: "{LOOPBACK}:{self.ports["main"]}"\n'
            f'http: "{LOOPBACK}:{self.ports["monitor"]}"\n'
            f'jetstream {{ store_dir: "{base / "jetstream"}" }}\n'
            f'authorization {{ users: [ {{ user: "{self.username}", password: "{self.password}" }}'
            + "".join(f", {entry}" for entry in self.extra_users)
            + " ] }\n"
            # The per-test users' commands are their evidence (`nats_users`); only logged while there are some.
            + ("trace: true\n" if self.extra_users else "")
            + self._tls_conf()
        )

    def _tls_conf(self) -> str:
        """TLS on the client port with the session CA's files; `verify` (mutual TLS) refuses clients
        without a certificate."""
        if self.tls is None:
            return ""
        return (
            "tls {\n"
            f'  cert_file: "{self.tls.server_certificate.cert_path}"\n'
            f'  key_file: "{self.tls.server_certificate.key_path}"\n'
            f'  ca_file: "{self.tls.bundle_path}"\n'
            f"  verify: {str(self.tls.mutual).lower()}\n"
            "}\n"
        )

    def reload(self) -> None:
        """Write the config again and have the server reload it (SIGHUP); returns once its log says
        it has (polling /varz costs the server more than the reload)."""
        log = self.process.log_path
        offset = log.stat().st_size
        self.configure(self.base)
        os.kill(self.process.pid or 0, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while True:
            with log.open("rb") as lines:
                lines.seek(offset)
                outcome = [line for line in lines if b"Reloaded server configuration" in line or b"Failed to reload" in line]
            if outcome and b"Failed to reload" in outcome[0]:
                raise BrokerError(f"nats-server refused its new config: {outcome[0].decode(errors='replace').strip()}")
            if outcome:
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"nats-server did not reload its config within {RELOAD_TIMEOUT} s (see {log})")
            time.sleep(0.005)

    def user_admin(self) -> NatsUsers:
        """Per-test users with subject permissions (`pytest_ipc.brokers.privileges`)."""
        if self._users is None:
            self._users = NatsUsers(self)
        return self._users

    def server_process(self, base: Path) -> LocalProcess:
        monitor_port = self.ports["monitor"]
        return LocalProcess(
            "nats",
            [
                shutil.which("nats-server") or "nats-server",
                "-c",
                str(base / "nats.conf"),
            ],
            workdir=base,
            ready=lambda: nats_healthy(monitor_port),
        )

    def isolation(self) -> SubjectPrefixes:
        return SubjectPrefixes(self.endpoint, self.tls)


def external_isolation(endpoint: BrokerEndpoint, path: str) -> SubjectPrefixes:
    return SubjectPrefixes(endpoint)


def container_recipe(image: str) -> ContainerRecipe:
    """No auth (loopback only). The official image's entrypoint is nats-server itself and needs
    JetStream and monitoring switched on; any other image's own command must switch on both."""
    official = image.startswith("nats:")

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        return BrokerEndpoint(
            "nats",
            started.host,
            started.ports["main"],
            extra_ports={"monitor": started.ports["monitor"]},
        )

    spec = ContainerSpec(
        image,
        {"main": 4222, "monitor": 8222},
        command=["-js", "-m", "8222"] if official else None,
        ready=lambda started: nats_healthy(started.ports["monitor"], started.host),
    )
    return ContainerRecipe(spec, endpoint)


def container_tls_recipe(image: str, tls: ListenerTls) -> ContainerRecipe:
    """`container_recipe` with TLS on the client port (TLS only, as locally) from the mounted
    session-CA files; cleanup speaks TLS. Another image than the official one must have nats-server
    on its PATH: the command is given whole."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        ports = {"monitor": started.ports["monitor"], TLS_PORT: started.ports["main"]}
        return BrokerEndpoint("nats", started.host, started.ports["main"], extra_ports=ports, tls=True)

    volumes, ca, cert, key = tls.container_files()
    server = [] if image.startswith("nats:") else ["nats-server", "-a", "0.0.0.0", "-p", "4222"]
    flags = ["-js", "-m", "8222", "--tls", "--tlscert", cert, "--tlskey", key, "--tlscacert", ca]
    spec = ContainerSpec(
        image,
        {"main": 4222, "monitor": 8222},
        command=[*server, *flags, *(["--tlsverify"] if tls.mutual else [])],
        volumes=volumes,
        ready=lambda started: nats_healthy(started.ports["monitor"], started.host),
    )
    return ContainerRecipe(spec, endpoint, tls=True, isolation=lambda endpoint, path: SubjectPrefixes(endpoint, tls))
