"""Per-test Redis users (``ACL SETUSER`` with key, channel and command rules) on a server we
started, and the evidence of what they did.

Used: a ``MONITOR`` connection per test sees every command with its client's address, but not its
login (``HELLO``/``AUTH`` are redacted, and a short-lived client is gone before ``CLIENT LIST``
shows it); so each user connects through a loopback relay of its own, and the addresses the relay
connects from are that login's. The keys a command touched (and whether it
read or wrote them) come from ``COMMAND GETKEYSANDFLAGS``, channels from the pub/sub arguments.
Refused: ``ACL LOG``, which names the login, the key, channel or command, and the command it ran.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import selectors
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.privileges import Grant, Operation

if TYPE_CHECKING:
    import redis

    from pytest_ipc.brokers.handles import IsolatedBroker

READ, WRITE, CHANNELS, COMMANDS = "read keys", "write keys", "channels", "commands"
SERVICE_COMMANDS = ("+@read", "+@write", "+@pubsub", "+@connection", "+@transaction", "-@dangerous")
"""What a service that publishes or consumes needs, without the commands that touch the whole server."""
_KEY_RULE = re.compile(r"^(?:%(?P<access>R|W|RW)~|~)(?P<pattern>.+)$")
_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", '"': '"', "\\": "\\"}
_PUBLISHING = {"publish", "spublish"}
_SUBSCRIBING = {"subscribe", "ssubscribe", "psubscribe"}


def monitor_arguments(line: str) -> tuple[str, list[str]]:
    """A MONITOR line (``<time> [<db> <addr>] "cmd" "arg"...``) as (client address, arguments)."""
    head, _, rest = line.partition("] ")
    address = head.rpartition(" ")[2]
    arguments = [
        re.sub(r"\\x([0-9a-fA-F]{2})|\\(.)", lambda m: chr(int(m[1], 16)) if m[1] else _ESCAPES.get(m[2], m[2]), arg)
        for arg in _ARGUMENT.findall(rest)
    ]
    return address, arguments


class _Relay(threading.Thread):
    """A loopback TCP relay in front of the server for one login; records the addresses it connects
    to the server from (MONITOR shows those)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(name="pytest-ipc-redis-relay", daemon=True)
        self.upstream = upstream
        self.addresses: set[str] = set()
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = [self._listener]

    def run(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                source = key.fileobj
                assert isinstance(source, socket.socket)
                if source is self._listener:
                    self._accept()
                    continue
                try:
                    data = source.recv(65536)
                    if data:
                        key.data.sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(source, key.data)

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        host, port = server.getsockname()[:2]
        self.addresses.add(f"{host}:{port}")
        for one, other in ((client, server), (server, client)):
            one.settimeout(5)
            self._selector.register(one, selectors.EVENT_READ, other)
            self._sockets.append(one)

    def _drop(self, *pair: socket.socket) -> None:
        for one in pair:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(one)
            one.close()

    def close(self) -> None:
        self._stopping.set()
        self.join(5)
        for one in self._sockets:
            one.close()
        self._selector.close()


class _Monitor(threading.Thread):
    """A test's MONITOR reader: commands by login, in order."""

    def __init__(self, admin: BrokerEndpoint) -> None:
        super().__init__(name="pytest-ipc-redis-monitor", daemon=True)
        self.admin = admin
        self.commands: list[tuple[str, list[str]]] = []
        """(client address, arguments) of every command the server ran, in order."""
        self.stopping = threading.Event()
        self.started_monitoring = threading.Event()

    def run(self) -> None:
        from pytest_ipc.brokers.redis import redis_client

        with redis_client(self.admin) as client, client.monitor() as monitor:
            connection = monitor.connection
            assert connection is not None
            self.started_monitoring.set()
            while not self.stopping.is_set():
                if not connection.can_read(timeout=0.05):
                    continue
                raw = connection.read_response()
                line = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
                self.commands.append(monitor_arguments(line))


class RedisUsers:
    """`UserAdmin` of a local Redis server."""

    native = frozenset({"keys", "channels", "commands"})

    def __init__(self, admin: BrokerEndpoint) -> None:
        self.admin = admin
        self._monitors: dict[str, _Monitor] = {}
        self._relays: dict[str, _Relay] = {}

    def grants(
        self, handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
    ) -> tuple[Grant, ...]:
        """publish: keys to write and channels to publish on; consume: keys to read and write (a
        consumer pops or acknowledges) and channels to subscribe to; names qualified by the handle.
        Or ``keys=``/``channels=``/``commands=`` ACL rules as Redis spells them (``~k*``, ``%R~k``, ``&c``, ``+@read``)."""
        if native:
            if publish or consume:
                raise IpcUsageError("give Redis users publish/consume names or keys/channels/commands rules, not both")
            rules = {kind: _rules(kind, native.get(kind, ())) for kind in self.native}
            grants: list[Grant] = []
            for rule in rules["keys"]:
                match = _KEY_RULE.match(rule)
                if match is None:
                    raise IpcUsageError(f"a Redis key rule is ~pattern, %R~, %W~ or %RW~pattern, got {rule!r}")
                access = match["access"] or "RW"
                grants += [Grant(READ, match["pattern"], "glob")] if "R" in access else []
                grants += [Grant(WRITE, match["pattern"], "glob")] if "W" in access else []
            for rule in rules["channels"]:
                if not rule.startswith("&"):
                    raise IpcUsageError(f"a Redis channel rule is &pattern, got {rule!r}")
                grants.append(Grant(CHANNELS, rule[1:], "glob"))
            return (*grants, *(Grant(COMMANDS, rule, "rule") for rule in rules["commands"] or SERVICE_COMMANDS))
        grants = []
        for name in publish:
            qualified = handle.name(name)
            grants += [Grant(WRITE, qualified, "glob", name), Grant(CHANNELS, qualified, "glob", name)]
        for name in consume:
            qualified = handle.name(name)
            grants += [
                Grant(READ, qualified, "glob", name),
                Grant(WRITE, qualified, "glob", name),
                Grant(CHANNELS, qualified, "glob", name),
            ]
        return (*grants, *(Grant(COMMANDS, rule, "rule") for rule in SERVICE_COMMANDS))

    def create(self, handle: IsolatedBroker, username: str, password: str, grants: tuple[Grant, ...]) -> BrokerEndpoint:
        from pytest_ipc.brokers.redis import redis_client

        if handle.namespace not in self._monitors:
            monitor = _Monitor(self.admin)
            monitor.start()
            monitor.started_monitoring.wait(5)
            self._monitors[handle.namespace] = monitor
        rules = ["reset", "on", f">{password}", "resetchannels"]
        for grant in grants:
            rules.append(
                {READ: f"%R~{grant.pattern}", WRITE: f"%W~{grant.pattern}", CHANNELS: f"&{grant.pattern}"}.get(
                    grant.permission, grant.pattern
                )
            )
        with redis_client(self.admin) as client:
            client.execute_command("ACL", "SETUSER", username, *rules)
        relay = self._relays[username] = _Relay((self.admin.host, self.admin.port))
        relay.start()
        return dataclasses.replace(handle.endpoint, host=LOOPBACK, port=relay.port, username=username, password=password)

    def observe(self, handle: IsolatedBroker, username: str) -> tuple[list[Operation], list[Operation]]:
        from pytest_ipc.brokers.redis import redis_client

        used: list[Operation] = []
        with _raw(redis_client(self.admin)) as client:
            addresses = self._relays[username].addresses
            for address, arguments in list(self._monitors[handle.namespace].commands):
                if address in addresses and arguments:
                    used.extend(_operations(client, arguments))
            refused = [_refusal(client, entry) for entry in client.acl_log() if entry.get("username") == username]
        return used, refused

    def remove(self, handle: IsolatedBroker, usernames: Sequence[str]) -> None:
        from pytest_ipc.brokers.redis import redis_client

        monitor = self._monitors.pop(handle.namespace, None)
        try:
            if usernames:
                with redis_client(self.admin) as client:
                    client.execute_command("ACL", "DELUSER", *usernames)
        finally:
            for username in usernames:
                if (relay := self._relays.pop(username, None)) is not None:
                    relay.close()
            if monitor is not None:
                monitor.stopping.set()
                monitor.join(5)


def _rules(kind: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise IpcUsageError(f"{kind}= is a list of Redis ACL rules, got {value!r}")
    return list(value)


def _raw(client: redis.Redis) -> redis.Redis:
    """`client` without redis-py's parsing of COMMAND answers (it expects COMMAND INFO's shape)."""
    client.response_callbacks.pop("COMMAND", None)
    return client


def _operations(client: redis.Redis, arguments: list[str]) -> list[Operation]:
    import redis as redis_module

    command = arguments[0].lower()
    if command in _PUBLISHING:
        return [Operation(CHANNELS, arguments[1], "channel", command.upper())]
    if command in _SUBSCRIBING:
        return [Operation(CHANNELS, channel, "channel", command.upper()) for channel in arguments[1:]]
    operations = []
    with contextlib.suppress(redis_module.ResponseError):  # a command without keys
        for key, flags in client.execute_command("COMMAND", "GETKEYSANDFLAGS", *arguments):  # type: ignore[no-untyped-call]
            names = {flag.decode() if isinstance(flag, bytes) else str(flag) for flag in flags}
            key = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
            # As Redis's ACL checks: "access" reads, "insert"/"update"/"delete" write; else the R/W flags.
            reads, writes = "access" in names, bool(names & {"insert", "update", "delete"})
            if not (reads or writes):
                reads, writes = bool(names & {"RO", "RW"}), bool(names & {"RW", "OW", "RM"})
            if reads:
                operations.append(Operation(READ, key, "key", command.upper()))
            if writes:
                operations.append(Operation(WRITE, key, "key", command.upper()))
    return operations


def _refusal(client: redis.Redis, entry: dict[str, object]) -> Operation:
    reason, target = str(entry.get("reason")), str(entry.get("object"))
    raw = entry.get("client-info", "")
    info = raw if isinstance(raw, dict) else dict(part.split("=", 1) for part in str(raw).split() if "=" in part)
    command = str(info.get("cmd", "")).replace("|", " ").upper()
    if reason == "channel":
        return Operation(CHANNELS, target, "channel", command)
    if reason == "key":
        flags = client.execute_command("COMMAND", "INFO", command.split()[0]) if command else []  # type: ignore[no-untyped-call]
        described = str(flags)
        return Operation(WRITE if "write" in described else READ, target, "key", command)
    return Operation(COMMANDS, target, "command", command)
