"""Redis: a private server, and a key prefix per test whose keys are removed after it."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.broker_container import ContainerRecipe
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.backends.container import ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.handles import NamePrefixes
from pytest_ipc.brokers.redis_users import RedisUsers
from pytest_ipc.brokers.tls import TLS_PORT, ListenerTls

if TYPE_CHECKING:
    import redis

INSTALL_HINT = "apt-get install redis-server"
DELETE_BATCH = 500


def redis_client(endpoint: BrokerEndpoint, db: int = 0) -> redis.Redis:
    """A client of `endpoint` (over TLS, with its `ClientTls` files, for a TLS endpoint)."""
    import redis

    given = endpoint.client_tls if endpoint.tls else None  # an external broker's TLS URL
    return redis.Redis(
        host=endpoint.host,
        port=endpoint.port,
        db=db,
        username=endpoint.username,
        password=endpoint.password,
        socket_timeout=5,
        socket_connect_timeout=5,
        ssl=given is not None,
        ssl_ca_certs=str(given.bundle_path) if given is not None and given.bundle_path is not None else None,
        ssl_certfile=str(given.cert_path) if given is not None and given.cert_path is not None else None,
        ssl_keyfile=str(given.key_path) if given is not None and given.key_path is not None else None,
        ssl_check_hostname=given is not None,
    )


def redis_ready(endpoint: BrokerEndpoint) -> bool:
    import redis

    try:
        with redis_client(endpoint) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


class KeyPrefixes(NamePrefixes):
    """Keys are ``<namespace>:<name>``; after the test every key under the prefix goes (SCAN + UNLINK),
    also those the test wrote without asking `name()`, as long as they carry the prefix."""

    separator = ":"

    def __init__(self, endpoint: BrokerEndpoint, db: int = 0) -> None:
        super().__init__(endpoint)
        self.db = db

    def url(self, endpoint: BrokerEndpoint, namespace: str) -> str:
        return f"{endpoint.url}/{self.db}"

    def close(self, namespace: str, names: Collection[str]) -> None:
        with redis_client(self.endpoint, self.db) as client:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{namespace}:*", count=1000):
                batch.append(key)
                if len(batch) >= DELETE_BATCH:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)


class LocalRedis(LocalBroker):
    """Password-protected, loopback only, append-only file in its own dir (kept across restarts)."""

    kind = "redis"
    _users: RedisUsers | None = None

    def missing_reason(self) -> str | None:
        return None if shutil.which("redis-server") else f"redis-server not found ({INSTALL_HINT})"

    @property
    def endpoint(self) -> BrokerEndpoint:
        return BrokerEndpoint("redis", LOOPBACK, self.ports["main"], "default", self.password, self.tls_ports())

    def configure(self, base: Path) -> None:
        (base / "data").mkdir()
        (base / "redis.conf").write_text(
            f"bind {LOOPBACK}\n"
            f"port {self.ports['main']}\n"
            f"dir {base / 'data'}\n"
            f"requirepass {self.password}\n"
            'save ""\n'
            "appendonly yes\n"
            "daemonize no\n"
            'logfile ""\n' + self._tls_conf()
        )

    def _tls_conf(self) -> str:
        """A TLS port with the session CA's files; mutual TLS refuses clients without a certificate."""
        if self.tls is None:
            return ""
        return (
            f"tls-port {self.ports['tls']}\n"
            f"tls-cert-file {self.tls.server_certificate.cert_path}\n"
            f"tls-key-file {self.tls.server_certificate.key_path}\n"
            f"tls-ca-cert-file {self.tls.bundle_path}\n"
            f"tls-auth-clients {'yes' if self.tls.mutual else 'optional'}\n"
        )

    def server_process(self, base: Path) -> LocalProcess:
        endpoint = self.endpoint
        return LocalProcess(
            "redis",
            [shutil.which("redis-server") or "redis-server", str(base / "redis.conf")],
            workdir=base,
            ready=lambda: redis_ready(endpoint) and self.tls_ready(),
        )

    def isolation(self) -> KeyPrefixes:
        return KeyPrefixes(self.endpoint)

    def user_admin(self) -> RedisUsers:
        """Per-test ACL users with key, channel and command rules (`pytest_ipc.brokers.privileges`)."""
        if self._users is None:
            self._users = RedisUsers(self.endpoint)
        return self._users


def external_isolation(endpoint: BrokerEndpoint, db: str) -> KeyPrefixes:
    if db and not db.isdigit():
        raise IpcUsageError(f"the path of a redis URL is a database number (like /0), got {db!r}")
    return KeyPrefixes(endpoint, int(db or 0))


def external_users(endpoint: BrokerEndpoint) -> RedisUsers:
    """ACL users on any Redis 7 whose login may run ACL and MONITOR (a container's, an external one)."""
    return RedisUsers(endpoint)


def container_recipe(image: str) -> ContainerRecipe:
    """No password: the port is published on loopback only."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        return BrokerEndpoint("redis", started.host, started.ports["main"])

    spec = ContainerSpec(image, {"main": 6379}, ready=lambda started: redis_ready(endpoint(started)))
    return ContainerRecipe(spec, endpoint)


def container_tls_recipe(image: str, tls: ListenerTls) -> ContainerRecipe:
    """`container_recipe` plus a TLS port (6380) with the mounted session-CA files; the command is
    redis-server's own, so the official image's entrypoint and ours both run it."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        return BrokerEndpoint("redis", started.host, started.ports["main"], extra_ports={TLS_PORT: started.ports[TLS_PORT]})

    volumes, ca, cert, key = tls.container_files()
    command = [
        *("redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no"),
        *("--tls-port", "6380", "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca),
        *("--tls-auth-clients", "yes" if tls.mutual else "optional"),
    ]
    spec = ContainerSpec(
        image,
        {"main": 6379, TLS_PORT: 6380},
        command=command,
        volumes=volumes,
        ready=lambda started: redis_ready(endpoint(started)),
    )
    return ContainerRecipe(spec, endpoint, tls=True)
