"""RabbitMQ (AMQP 0-9-1, and STOMP through its plugin): a private node, and a vhost per test.

Per-test vhosts must be cheap. ``rabbitmqctl`` boots an Erlang VM per call (about 0.4 s), and the
management plugin slows every stop by 5 s (its statistics shutdown). A private node needs neither:
a hidden Erlang node started next to it (`ErlangShell`) evaluates ``rabbit_vhost:add/2`` on it
over Erlang distribution in about a millisecond. Containers and external brokers use the management
HTTP API when there is one, and otherwise share one vhost with names prefixed per test, deleting
the queues and exchanges of those names after the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import socket
import threading
import time
from collections.abc import Collection
from pathlib import Path
from urllib.parse import quote

import httpx

from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.container import ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.container import ContainerRecipe
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.handles import Isolation, NamePrefixes
from pytest_ipc.brokers.local import LocalBroker, accepts_connections

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # /usr/sbin's wrapper drops root to `rabbitmq`
DEFAULT_IMAGE = "rabbitmq:3.13-management"
ACTING_USER = "pytest-ipc"
INSTALL_HINT = "apt-get install rabbitmq-server"
EPMD_FORGET_TIMEOUT = 10.0
_ERLANG_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")  # what we splice into Erlang binaries


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


def connection_parameters(endpoint: BrokerEndpoint, vhost: str, attempts: int = 3) -> object:
    """pika's parameters for `endpoint` in `vhost`."""
    import pika

    return pika.ConnectionParameters(
        endpoint.host,
        endpoint.port,
        vhost,
        pika.PlainCredentials(endpoint.username or "guest", endpoint.password or "guest"),
        connection_attempts=attempts,
        socket_timeout=5,
    )


def amqp_url(endpoint: BrokerEndpoint, vhost: str) -> str:
    return f"{endpoint.url}/{quote(vhost, safe='')}"


class _Vhosts:
    """Isolation by one vhost per test: names stay as the test wrote them."""

    def name(self, namespace: str, local_name: str) -> str:
        return local_name

    def url(self, endpoint: BrokerEndpoint, namespace: str) -> str:
        return amqp_url(endpoint, namespace)

    def vhost(self, namespace: str) -> str | None:
        return namespace


CONTROL_LOOP = """
Node = list_to_atom(os:getenv("PYTEST_IPC_RABBITMQ_NODE")),
Serve = fun Serve() ->
    case io:get_line("") of
        eof -> halt(0);
        Line ->
            Reply = try
                {ok, Tokens, _} = erl_scan:string(Line),
                {ok, Exprs} = erl_parse:parse_exprs(Tokens),
                case rpc:call(Node, erl_eval, exprs, [Exprs, erl_eval:new_bindings()], 30000) of
                    {value, Value, _} -> {ok, Value};
                    {badrpc, Reason} -> {error, Reason}
                end
            catch Class:Error -> {error, {Class, Error}}
            end,
            io:format("~w~n", [Reply]),
            Serve()
    end
end,
Serve().
"""


class ErlangShell:
    """A hidden Erlang node that evaluates expressions on the broker's node: one line in, one out.

    It boots once per session next to the broker (about as costly as one ``rabbitmqctl`` call) and
    answers in about a millisecond after that; it reconnects by itself after broker restarts.
    """

    def __init__(self, process: LocalProcess, timeout: float = 60.0) -> None:
        self.process = process
        self.timeout = timeout
        self._buffer = b""
        self._lock = threading.Lock()

    def evaluate(self, expression: str) -> str:
        """Evaluate one line of Erlang on the broker's node; its value as ``~w`` prints it."""
        if "\n" in expression:
            raise ValueError("one line of Erlang at a time")
        with self._lock:
            stdin, stdout = self.process.stdio
            stdin.write(expression.encode() + b"\n")
            stdin.flush()
            answer = self._read_line(stdout.fileno())
        if not answer.startswith("{ok,"):
            raise RuntimeError(f"the RabbitMQ node refused {expression!r}: {answer}")
        return answer[len("{ok,") : -1]

    def _read_line(self, fd: int) -> str:
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError(f"the Erlang control node did not answer within {self.timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ConnectionError(f"the Erlang control node exited (see {self.process.log_path})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")


class ShellVhosts(_Vhosts):
    """Vhosts on a node we started, created and deleted through an `ErlangShell`.

    Work on the node is taken off the test's path: each `open` also creates the upcoming test's
    vhost in the background, and `close` deletes the vhost in the background (the node finishes it
    moments later). Creating a vhost and granting the permissions happen under a global lock per
    vhost, so an `open` waits for a creation in progress; the grant is always repeated, which also
    repairs a vhost whose creation a killed node interrupted.
    """

    def __init__(self, shell: ErlangShell, username: str) -> None:
        self.shell = shell
        self.username = username

    def open(self, namespace: str, upcoming: str | None = None) -> None:
        user, actor, everything = _erlang_binary(self.username), _erlang_binary(ACTING_USER), '<<".*">>'
        ensure = (
            "Ensure = fun(V) -> global:trans({{pytest_ipc_vhost, V}, self()}, fun() -> "
            f"case rabbit_vhost:exists(V) of true -> ok; false -> ok = rabbit_vhost:add(V, {actor}) end, "
            f"ok = rabbit_auth_backend_internal:set_permissions({user}, V, {everything}, {everything}, "
            f"{everything}, {actor}) end) end"
        )
        prepare = f"spawn(fun() -> Ensure({_erlang_binary(upcoming)}) end), " if upcoming else ""
        self.shell.evaluate(f"{ensure}, ok = Ensure({_erlang_binary(namespace)}), {prepare}ok.")

    def close(self, namespace: str, names: Collection[str]) -> None:
        vhost, actor = _erlang_binary(namespace), _erlang_binary(ACTING_USER)
        self.shell.evaluate(f"spawn(fun() -> rabbit_vhost:delete({vhost}, {actor}) end), ok.")


def _erlang_binary(text: str) -> str:
    if not _ERLANG_SAFE.match(text):
        raise ValueError(f"{text!r} cannot be passed to Erlang as is")
    return f'<<"{text}">>'


class ManagementVhosts(_Vhosts):
    """Creates and deletes vhosts through the management plugin's HTTP API (containers, external)."""

    def __init__(self, api_url: str, username: str, password: str) -> None:
        self.username = username
        self._http = httpx.Client(base_url=api_url.rstrip("/"), auth=(username, password), timeout=10)

    def open(self, namespace: str, upcoming: str | None = None) -> None:
        vhost = quote(namespace, safe="")
        self._http.put(f"/api/vhosts/{vhost}").raise_for_status()
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        self._http.put(
            f"/api/permissions/{vhost}/{quote(self.username, safe='')}",
            json=permissions,
        ).raise_for_status()

    def close(self, namespace: str, names: Collection[str]) -> None:
        answer = self._http.delete(f"/api/vhosts/{quote(namespace, safe='')}")
        if answer.status_code != 404:
            answer.raise_for_status()


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
    port_names = ("amqp", "stomp", "dist", "epmd")
    _shell: ErlangShell | None = None

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
            extra_ports={"stomp": self.ports["stomp"]},
        )

    def _env(self, base: Path) -> dict[str, str]:
        return {
            "HOME": str(base),  # the Erlang cookie lives in $HOME, for the node and the control node
            "ERL_EPMD_PORT": str(self.ports["epmd"]),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.ports["amqp"]),
            "RABBITMQ_DIST_PORT": str(self.ports["dist"]),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def configure(self, base: Path) -> None:
        (base / "rabbitmq-env.conf").write_text("")  # so the system's is not sourced
        (base / "advanced.config").write_text("[].\n")
        (base / "enabled_plugins").write_text("[rabbitmq_stomp].\n")
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {LOOPBACK}:{self.ports['amqp']}\n"
            f"stomp.listeners.tcp.1 = {LOOPBACK}:{self.ports['stomp']}\n"
            f"default_user = {self.username}\n"
            f"default_pass = {self.password}\n"
            "log.console = false\n"
        )
        cookie = base / ".erlang.cookie"
        cookie.write_text(self.password.upper())
        cookie.chmod(0o400)

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
            ready=lambda: amqp_ready(endpoint),
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

    def isolation(self) -> ShellVhosts:
        if self._shell is None:
            raise RuntimeError("local rabbitmq is not started")
        return ShellVhosts(self._shell, self.username)


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
        return ManagementVhosts(f"http://{endpoint.host}:{management}", username, password)
    return PrefixedNames(endpoint, vhost or "/")


def container_recipe(image: str) -> ContainerRecipe:
    """The image's own user (guest, allowed from outside by both the official and our local images);
    the STOMP plugin enabled by RABBITMQ_ENABLED_PLUGINS, management too on "-management" images."""
    with_management = "management" in image
    ports = {"amqp": 5672, "stomp": 61613} | ({"management": 15672} if with_management else {})
    plugins = "rabbitmq_stomp,rabbitmq_management" if with_management else "rabbitmq_stomp"

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        extra = {name: port for name, port in started.ports.items() if name != "amqp"}
        return BrokerEndpoint("rabbitmq", started.host, started.ports["amqp"], "guest", "guest", extra)

    spec = ContainerSpec(
        image,
        ports,
        env={"RABBITMQ_ENABLED_PLUGINS": plugins},
        ready=lambda started: amqp_ready(endpoint(started)),
    )
    return ContainerRecipe(spec, endpoint)
