"""RabbitMQ (AMQP 0-9-1, and STOMP through its plugin): a private node, and a vhost per test.

Each test gets a vhost of its own and a login of its own for it. Creating a vhost costs the node
40-150 ms, so vhosts come from a `VhostPool` that empties them for the next test instead. A private
node is administered through a hidden Erlang node started next to it (`rabbitmq_admin`), which
needs no management plugin (that plugin slows every stop by 5 s). Containers and external brokers
use the management HTTP API when there is one, and otherwise share one vhost with names prefixed per
test, deleting the queues and exchanges of those names after the test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK, accepts_connections
from pytest_ipc.backends.broker_container import ContainerRecipe
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.backends.container import ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.handles import Isolation, NamePrefixes
from pytest_ipc.brokers.rabbitmq_admin import CONTROL_LOOP, ErlangShell, ManagementVhosts, ShellVhosts
from pytest_ipc.brokers.rabbitmq_home import enable_plugins
from pytest_ipc.brokers.rabbitmq_users import RabbitMQUsers
from pytest_ipc.brokers.tls import TLS_PORT, ListenerTls
from pytest_ipc.brokers.vhost_pool import PoolVhost, VhostPool

if TYPE_CHECKING:
    import pika

    from pytest_ipc.brokers.privileges import UserAdmin

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # /usr/sbin's wrapper drops root to `rabbitmq`
INSTALL_HINT = "apt-get install rabbitmq-server"
EPMD_FORGET_TIMEOUT = 10.0


def amqp_ready(endpoint: BrokerEndpoint, vhost: str = "/") -> bool:
    """True when an AMQP handshake (with login) succeeds: the port opens before boot is complete."""
    import pika
    import pika.exceptions

    if not accepts_connections(endpoint.host, endpoint.port):
        return False
    try:
        pika.BlockingConnection(connection_parameters(endpoint, vhost, attempts=1)).close()
    except (pika.exceptions.AMQPError, OSError):
        return False
    return True


def connection_parameters(endpoint: BrokerEndpoint, vhost: str, attempts: int = 3) -> pika.ConnectionParameters:
    """pika's parameters for `endpoint` in `vhost` (over TLS for a TLS endpoint)."""
    import pika

    from pytest_ipc.brokers.tls import endpoint_context

    context = endpoint_context(endpoint)
    return pika.ConnectionParameters(
        endpoint.host,
        endpoint.port,
        vhost,
        pika.PlainCredentials(endpoint.username or "guest", endpoint.password or "guest"),
        connection_attempts=attempts,
        socket_timeout=5,
        ssl_options=None if context is None else pika.SSLOptions(context, endpoint.host),
    )


def amqp_url(endpoint: BrokerEndpoint, vhost: str) -> str:
    return f"{endpoint.url}/{quote(vhost, safe='')}"


class PooledVhosts:
    """Isolation by a vhost per test, leased from a `VhostPool`, with a login of the test's own:
    names stay as the test wrote them; the endpoint and URL carry the test's login (after close()
    they still name the vhost and the login, which no longer gets in)."""

    def __init__(self, pool: VhostPool) -> None:
        self.pool = pool
        self._leases: dict[str, PoolVhost] = {}
        self._open: set[str] = set()

    def open(self, namespace: str) -> None:
        self._leases[namespace] = self.pool.lease()
        self._open.add(namespace)

    def close(self, namespace: str, names: Collection[str]) -> None:
        if namespace in self._open:
            self._open.remove(namespace)
            self.pool.give_back(self._lease(namespace))

    def shutdown(self) -> None:
        self.pool.close()

    def name(self, namespace: str, local_name: str) -> str:
        return local_name

    def endpoint_for(self, endpoint: BrokerEndpoint, namespace: str) -> BrokerEndpoint:
        login = self._lease(namespace).login
        return dataclasses.replace(endpoint, username=login.username, password=login.password)

    def url(self, endpoint: BrokerEndpoint, namespace: str) -> str:
        return amqp_url(endpoint, self._lease(namespace).name)

    def vhost(self, namespace: str) -> str | None:
        return self._lease(namespace).name

    def _lease(self, namespace: str) -> PoolVhost:
        try:
            return self._leases[namespace]
        except KeyError:
            raise IpcUsageError(f"{namespace} has no vhost: open() the handle first") from None


class PrefixedNames(NamePrefixes):
    """Isolation without vhost rights: names prefixed per test in the URL's vhost, and after the test
    the queues and exchanges of every name the test asked for are deleted (missing ones are fine)."""

    def __init__(self, endpoint: BrokerEndpoint, vhost: str) -> None:
        super().__init__(endpoint)
        self._vhost = vhost

    def url(self, endpoint: BrokerEndpoint, namespace: str) -> str:
        return amqp_url(endpoint, self._vhost)

    def vhost(self, namespace: str) -> str | None:
        return self._vhost

    def close(self, namespace: str, names: Collection[str]) -> None:
        if not names:
            return
        import pika

        connection = pika.BlockingConnection(connection_parameters(self.endpoint, self._vhost))
        try:
            for name in names:
                channel = connection.channel()
                channel.queue_delete(name)
                channel.exchange_delete(name)
                with contextlib.suppress(pika.exceptions.AMQPError):
                    channel.close()
        finally:
            connection.close()


class LocalRabbitMQ(LocalBroker):
    """A private node: own epmd, own Erlang cookie, every listener on loopback, STOMP enabled."""

    kind = "rabbitmq"
    port_names: tuple[str, ...] = ("amqp", "stomp", "dist", "epmd")
    _shell: ErlangShell | None = None
    _users: RabbitMQUsers | None = None
    #: The plugins the node enables: STOMP for STOMP clients (vhosts need no management plugin here).
    plugins: tuple[str, ...] = ("rabbitmq_stomp",)
    _home: Mapping[str, str] = {}

    @property
    def node(self) -> str:
        return f"{self.username}@localhost"

    def missing_reason(self) -> str | None:
        missing = [path for path in (RABBITMQ_SERVER, "epmd", "erl") if shutil.which(path) is None]
        if missing:
            return f"{', '.join(missing)} not found ({INSTALL_HINT})"
        return None

    @property
    def endpoint(self) -> BrokerEndpoint:
        return BrokerEndpoint(
            "rabbitmq",
            LOOPBACK,
            self.ports["amqp"],
            self.username,
            self.password,
            extra_ports={"stomp": self.ports["stomp"], **self.tls_ports()},
        )

    def _env(self, base: Path) -> dict[str, str]:
        return {**node_environment(base, self.node, self.ports), **self._home}

    def configure(self, base: Path) -> None:
        (base / "rabbitmq-env.conf").write_text("")  # so the system's is not sourced
        (base / "advanced.config").write_text("[].\n")
        self._home = enable_plugins(base, self.plugins, RABBITMQ_SERVER)
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {LOOPBACK}:{self.ports['amqp']}\n"
            f"stomp.listeners.tcp.1 = {LOOPBACK}:{self.ports['stomp']}\n"
            f"default_user = {self.username}\n"
            f"default_pass = {self.password}\n"
            "log.console = false\n" + self._tls_conf()
        )
        cookie = base / ".erlang.cookie"
        cookie.write_text(self.password.upper())
        cookie.chmod(0o400)

    def _tls_conf(self) -> str:
        """An AMQPS listener with the session CA's files; mutual TLS refuses clients without a certificate."""
        if self.tls is None:
            return ""
        return (
            f"listeners.ssl.1 = {LOOPBACK}:{self.ports['tls']}\n"
            f"ssl_options.cacertfile = {self.tls.bundle_path}\n"
            f"ssl_options.certfile = {self.tls.server_certificate.cert_path}\n"
            f"ssl_options.keyfile = {self.tls.server_certificate.key_path}\n"
            "ssl_options.verify = verify_peer\n"
            f"ssl_options.fail_if_no_peer_cert = {str(self.tls.mutual).lower()}\n"
        )

    def helper_processes(self, base: Path) -> list[LocalProcess]:
        """Our own epmd (never the shared one on 4369), and the control node for vhosts."""
        epmd_port = self.ports["epmd"]
        epmd = LocalProcess(
            "epmd",
            [shutil.which("epmd") or "epmd", "-port", str(epmd_port)],
            workdir=base,
            env=self._env(base),
            ready=lambda: accepts_connections(LOOPBACK, epmd_port),
        )
        control = LocalProcess(
            "control",
            [
                shutil.which("erl") or "erl",
                "-sname",
                f"{self.username}-control@localhost",
                "-hidden",
                "-noshell",
                "-kernel",
                "inet_dist_use_interface",
                "{127,0,0,1}",
                "-eval",
                CONTROL_LOOP,
            ],
            workdir=base,
            env={**self._env(base), "PYTEST_IPC_RABBITMQ_NODE": self.node},
            pipes=True,
        )
        self._shell = ErlangShell(control)
        return [epmd, control]

    def server_process(self, base: Path) -> LocalProcess:
        endpoint = self.endpoint
        return LocalProcess(
            "rabbitmq",
            [RABBITMQ_SERVER],
            workdir=base,
            env=self._env(base),
            ready=lambda: amqp_ready(endpoint) and self.tls_ready(),
            ready_timeout=120,
        )

    def start_broker(self) -> None:
        """Start again once epmd has noticed the old node is gone: a node whose name is still
        registered refuses to boot ("name seems to be in use"), a race right after a kill."""
        short_name = self.node.partition("@")[0]
        deadline = time.monotonic() + EPMD_FORGET_TIMEOUT
        while short_name in epmd_names(self.ports["epmd"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        super().start_broker()

    @property
    def shell(self) -> ErlangShell:
        if self._shell is None:
            raise IpcUsageError("local rabbitmq is not started: start() it first")
        return self._shell

    def isolation(self) -> PooledVhosts:
        return PooledVhosts(VhostPool(ShellVhosts(self.shell)))

    def user_admin(self) -> RabbitMQUsers:
        """Per-test users with configure/write/read regexes (`pytest_ipc.brokers.privileges`)."""
        if self._users is None:
            self._users = RabbitMQUsers(self.shell, self.base / "log" / f"{self.node}.log")
        return self._users


def epmd_names(port: int) -> list[str]:
    """The node names registered with the epmd on `port` (its NAMES request), [] if it is down."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2) as connection:
            connection.sendall(b"\x00\x01n")  # length 1, NAMES_REQ
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
    except OSError:
        return []
    return [line.split()[1] for line in answer[4:].decode(errors="replace").splitlines() if line.startswith("name ")]


def external_isolation(endpoint: BrokerEndpoint, vhost: str) -> Isolation:
    """A vhost per test through the management API when its port is known, else prefixed names."""
    management = endpoint.extra_ports.get("management")
    username, password = endpoint.username or "guest", endpoint.password or "guest"
    if management is not None:
        return PooledVhosts(VhostPool(ManagementVhosts(f"http://{endpoint.host}:{management}", username, password)))
    return PrefixedNames(endpoint, vhost or "/")


def external_users(endpoint: BrokerEndpoint) -> UserAdmin:
    """Per-test users on an external RabbitMQ, through its management API (``?management=PORT``)."""
    from pytest_ipc.brokers.rabbitmq_wire_users import ManagementAdmin, WireRecordedUsers

    management = endpoint.extra_ports.get("management")
    if management is None:
        raise IpcUsageError(
            "per-test RabbitMQ users on an external broker are made through its management API: add its port to "
            "--ipc-rabbitmq-url (amqp://ADMIN:PASSWORD@HOST:5672/?management=15672; the login must be an administrator)"
        )
    admin = ManagementAdmin(f"http://{endpoint.host}:{management}", endpoint.username or "guest", endpoint.password or "guest")
    return WireRecordedUsers(admin)


def container_users(endpoint: BrokerEndpoint, run: Callable[[list[str]], str]) -> UserAdmin:
    """Per-test users on a RabbitMQ container, through ``rabbitmqctl`` inside it."""
    from pytest_ipc.brokers.rabbitmq_wire_users import ControlAdmin, WireRecordedUsers

    return WireRecordedUsers(ControlAdmin(run))


def container_recipe(image: str, management: bool | None = None) -> ContainerRecipe:
    """The image's own user (guest, which the official images allow from outside the container);
    the STOMP plugin enabled by RABBITMQ_ENABLED_PLUGINS, and the management plugin (a vhost per test
    instead of prefixed names, but 5 s more for every graceful stop) when `management` says so, by
    default on "-management" images."""
    with_management = "management" in image if management is None else management
    ports = {"amqp": 5672, "stomp": 61613} | ({"management": 15672} if with_management else {})
    plugins = "rabbitmq_stomp,rabbitmq_management" if with_management else "rabbitmq_stomp"

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        extra = {name: port for name, port in started.ports.items() if name != "amqp"}
        return BrokerEndpoint("rabbitmq", started.host, started.ports["amqp"], "guest", "guest", extra)

    def ready(started: ContainerEndpoint) -> bool:
        broker = endpoint(started)
        return amqp_ready(broker) and (not with_management or management_ready(broker))

    spec = ContainerSpec(image, ports, env={"RABBITMQ_ENABLED_PLUGINS": plugins}, ready=ready)
    return ContainerRecipe(spec, endpoint)


def is_official_image(image: str) -> bool:
    """True for the official images (``rabbitmq:...``): RabbitMQ's generic build on their PATH, an
    entrypoint that writes config; else an image of Debian's rabbitmq-server package."""
    return image.startswith("rabbitmq:")


def container_tls_recipe(image: str, tls: ListenerTls) -> ContainerRecipe:
    """`container_recipe` plus an AMQPS listener (5671) from the mounted session-CA files. RabbitMQ
    reads TLS settings from its config file only: the container's shell appends them (handed over in
    an environment variable, so nothing is quoted) and then starts the server as the image would:
    the official image through its entrypoint, ours by its server script."""
    plain = container_recipe(image)
    volumes, ca, cert, key = tls.container_files()
    if is_official_image(image):
        conf, server = "/etc/rabbitmq/conf.d/90-pytest-ipc-tls.conf", ["docker-entrypoint.sh", "rabbitmq-server"]
    else:
        conf, server = "/etc/rabbitmq/rabbitmq.conf", [RABBITMQ_SERVER]
    settings = (
        "listeners.ssl.default = 5671\n"
        f"ssl_options.cacertfile = {ca}\nssl_options.certfile = {cert}\nssl_options.keyfile = {key}\n"
        f"ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = {str(tls.mutual).lower()}"
    )
    spec = dataclasses.replace(
        plain.spec,
        ports={**plain.spec.ports, TLS_PORT: 5671},
        env={**plain.spec.env, "TLS_SETTINGS": settings},
        command=["sh", "-c", f'printf "\\n%s\\n" "$TLS_SETTINGS" >> {conf} && exec "$@"', "sh", *server],
        volumes=volumes,
    )
    return ContainerRecipe(spec, plain.endpoint, tls=True)


def management_ready(endpoint: BrokerEndpoint) -> bool:
    """True when the management API answers (it may start after the AMQP listener)."""
    import httpx  # here: a session that never asks the management API does not load httpx (0.1-0.3 s)

    url = f"http://{endpoint.host}:{endpoint.extra_ports['management']}/api/overview"
    try:
        return httpx.get(url, auth=(endpoint.username or "guest", endpoint.password or "guest"), timeout=2).is_success
    except httpx.HTTPError:
        return False


def node_environment(base: Path, node: str, ports: Mapping[str, int]) -> dict[str, str]:
    """The environment of a private RabbitMQ node living in `base` (ports "epmd", "amqp", "dist"):
    its files, its own epmd and loopback only; the single node and each node of a cluster use it."""
    return {
        "HOME": str(base),  # the Erlang cookie lives in $HOME, for the node and the control node
        "ERL_EPMD_PORT": str(ports["epmd"]),
        "ERL_EPMD_ADDRESS": LOOPBACK,
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
        "RABBITMQ_NODE_PORT": str(ports["amqp"]),
        "RABBITMQ_DIST_PORT": str(ports["dist"]),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
