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
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.broker_container import CONFIG_DIR, ContainerRecipe
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


def users_conf(username: str, password: str, extra_users: Collection[str], *, anonymous: bool = False) -> str:
    """The ``authorization`` of a server we start: the session's login (which clients without a
    login get, when `anonymous`) and the per-test users' entries (`nats_users`), whose commands the
    server then traces into its log as their evidence."""
    return (
        f"authorization {{ users: [ {{ user: {json.dumps(username)}, password: {json.dumps(password)} }}"
        + "".join(f", {entry}" for entry in extra_users)
        + " ] }\n"
        + (f"no_auth_user: {json.dumps(username)}\n" if anonymous else "")
        + ("trace: true\n" if extra_users else "")
    )


def tls_conf(ca: str, cert: str, key: str, *, mutual: bool) -> str:
    """TLS on the client port with the session CA's files (paths as the server sees them); `verify`
    (mutual TLS) refuses clients without a certificate."""
    return f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n  ca_file: "{ca}"\n  verify: {str(mutual).lower()}\n}}\n'


def reload_config(log: Path, rewrite: Callable[[], None], send_reload: Callable[[], None]) -> None:
    """Rewrite a server's config and signal it to reload; returns once its log says it has (polling
    /varz costs the server more than the reload)."""
    offset = log.stat().st_size if log.exists() else 0
    rewrite()
    send_reload()
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
        from pytest_ipc.brokers.tls import endpoint_context

        self._context = tls.client_context() if tls is not None else endpoint_context(endpoint)

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
            + users_conf(self.username, self.password, self.extra_users)
            + self._tls_conf()
        )

    def _tls_conf(self) -> str:
        if self.tls is None:
            return ""
        certificate = self.tls.server_certificate
        return tls_conf(str(self.tls.bundle_path), str(certificate.cert_path), str(certificate.key_path), mutual=self.tls.mutual)

    @property
    def evidence_log(self) -> Path:
        """The server's log: its trace of per-test users' commands and its permission violations."""
        return self.process.log_path

    def reload(self) -> None:
        """Write the config again and have the server reload it (SIGHUP)."""
        reload_config(self.evidence_log, lambda: self.configure(self.base), lambda: os.kill(self.process.pid or 0, signal.SIGHUP))

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


class ContainerNatsConfig:
    """The config of a NATS container, in the host directory it reads at `CONFIG_DIR` (the same
    authorization and TLS sections as a local server's): no login needed from clients (they get the
    session's, which may do anything), per-test users added by `nats_users` and reloaded on SIGHUP,
    the log (their evidence) written next to it."""

    extra_users: tuple[str, ...] = ()

    def __init__(self, tls: ListenerTls | None = None) -> None:
        self.tls = tls
        self.username, self.password = "pytest-ipc", secrets.token_urlsafe(16)
        self._directory: Path | None = None
        self._send_reload: Callable[[], None] = lambda: None
        self._users: NatsUsers | None = None

    def attach(self, directory: Path, reload_signal: Callable[[], None]) -> None:
        self._directory, self._send_reload = directory, reload_signal
        self.evidence_log.touch()  # ours, not the container's: readable here whoever runs the engine
        self._write()

    @property
    def evidence_log(self) -> Path:
        if self._directory is None:
            raise BrokerError("the NATS container's config directory is not attached; start the container first")
        return self._directory / "nats.log"

    def _write(self) -> None:
        tls = ""
        if self.tls is not None:
            _, ca, cert, key = self.tls.container_files()
            tls = tls_conf(ca, cert, key, mutual=self.tls.mutual)
        (self.evidence_log.parent / "nats.conf").write_text(
            'listen: "0.0.0.0:4222"\nhttp: "0.0.0.0:8222"\njetstream { store_dir: "/var/lib/nats" }\n'
            f'log_file: "{CONFIG_DIR}/nats.log"\n'
            + users_conf(self.username, self.password, self.extra_users, anonymous=True)
            + tls
        )

    def reload(self) -> None:
        """Write the config again and have the server reload it (SIGHUP to the container)."""
        reload_config(self.evidence_log, self._write, self._send_reload)

    def user_admin(self, endpoint: BrokerEndpoint) -> NatsUsers:
        if self._users is None:
            self._users = NatsUsers(self)
        return self._users


def _container_spec(image: str, volumes: dict[str, str] | None = None) -> ContainerSpec:
    """nats-server on the mounted config: the official image's entrypoint is nats-server itself,
    any other image must have it on its PATH."""
    server = [] if image.startswith("nats:") else ["nats-server"]
    return ContainerSpec(
        image,
        {"main": 4222, "monitor": 8222},
        command=[*server, "-c", f"{CONFIG_DIR}/nats.conf"],
        volumes=volumes or {},
        ready=lambda started: nats_healthy(started.ports["monitor"], started.host),
    )


def container_recipe(image: str) -> ContainerRecipe:
    """JetStream and monitoring on, no login needed (loopback only), per-test users in its mounted config."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        return BrokerEndpoint(
            "nats",
            started.host,
            started.ports["main"],
            extra_ports={"monitor": started.ports["monitor"]},
        )

    config = ContainerNatsConfig()
    return ContainerRecipe(_container_spec(image), endpoint, config=config)


def container_tls_recipe(image: str, tls: ListenerTls) -> ContainerRecipe:
    """`container_recipe` with TLS on the client port (TLS only, as locally) from the mounted
    session-CA files; cleanup speaks TLS."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        ports = {"monitor": started.ports["monitor"], TLS_PORT: started.ports["main"]}
        return BrokerEndpoint("nats", started.host, started.ports["main"], extra_ports=ports, tls=True)

    volumes, *_ = tls.container_files()
    config = ContainerNatsConfig(tls)
    return ContainerRecipe(
        _container_spec(image, volumes),
        endpoint,
        tls=True,
        isolation=lambda endpoint, path: SubjectPrefixes(endpoint, tls),
        config=config,
    )
