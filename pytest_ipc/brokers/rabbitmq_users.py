"""Per-test RabbitMQ users with configure/write/read regexes in the test's vhost (on a node we
started, through its Erlang control node), and the evidence of what they did.

Used: the firehose tracer of the vhost (``publish.<exchange>`` is a write, ``deliver.<queue>`` a
read; each trace message names its user), routed to a queue of ours through a headers exchange that
only lets the test's users' traces through (the tracer's own reads would trace themselves); and the
queues a user declared (each queue records its declaring user). Refused: the node's log, which names
the operation, the resource and the user of every ACCESS_REFUSED.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.privileges import Grant, Operation, narrowest
from pytest_ipc.brokers.rabbitmq_admin import ACTING_USER, ErlangShell

if TYPE_CHECKING:
    import pika.adapters.blocking_connection

    from pytest_ipc.brokers.endpoint import BrokerEndpoint
    from pytest_ipc.brokers.handles import IsolatedBroker

PERMISSIONS = ("configure", "write", "read")
TRACE_EXCHANGE = "pytest-ipc.privileges"
TRACE_QUEUE = "pytest-ipc.privileges"
REFUSED = re.compile(
    r"operation (?P<command>\S+) caused a (?:channel|connection) exception access_refused: "
    r"access to (?P<kind>queue|exchange|topic) '(?P<resource>.*)' in vhost '(?P<vhost>.*)' refused for user '(?P<user>.*)'"
)
VHOST_REFUSED = re.compile(r"access to vhost '(?P<vhost>.*)' refused for user '(?P<user>.*)'")
# The permission an AMQP method takes on a queue or an exchange (binds: write on the queue, read on
# the exchange they bind from).
_PERMISSION_OF = {
    "queue.declare": "configure",
    "exchange.declare": "configure",
    "queue.delete": "configure",
    "exchange.delete": "configure",
    "basic.publish": "write",
    "basic.get": "read",
    "basic.consume": "read",
    "queue.purge": "read",
}


def erlang_bytes(text: str) -> str:
    """Any text as an Erlang binary (regexes carry characters `erlang_binary` refuses)."""
    return "<<" + ",".join(str(byte) for byte in text.encode()) + ">>"


def rabbitmq_grants(
    handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
) -> tuple[Grant, ...]:
    """publish: exchanges ("" is the default exchange) to write to and declare; consume: queues to
    read and declare. Or configure/write/read regexes as RabbitMQ spells them (missing ones: none)."""
    if native:
        if publish or consume:
            raise IpcUsageError("give RabbitMQ users publish/consume names or configure/write/read regexes, not both")
        patterns = {}
        for permission in PERMISSIONS:
            pattern = native.get(permission, "")
            if not isinstance(pattern, str):
                raise IpcUsageError(f"{permission}= is a regex string, got {pattern!r}")
            patterns[permission] = pattern
    else:
        exchanges = [handle.name(name) if name else "amq.default" for name in publish]
        queues = [handle.name(name) for name in consume]
        declared = [name for name in exchanges if name != "amq.default"] + queues
        patterns = {
            "configure": narrowest("regex", declared) if declared else "",
            "write": narrowest("regex", exchanges) if exchanges else "",
            "read": narrowest("regex", queues) if queues else "",
        }
    return tuple(Grant(permission, patterns[permission], "regex") for permission in PERMISSIONS)


@dataclass
class _Tracing:
    """A test's tracer: its login, its connection, what it read so far, where the log was."""

    login: str
    channel: pika.adapters.blocking_connection.BlockingChannel
    connection: pika.BlockingConnection
    log_offset: int
    traces: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class RabbitMQUsers:
    """`UserAdmin` of a local RabbitMQ node."""

    native = frozenset(PERMISSIONS)

    def __init__(self, shell: ErlangShell, log_path: Path) -> None:
        self.shell = shell
        self.log_path = log_path
        self._tracing: dict[str, _Tracing] = {}

    def grants(
        self, handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
    ) -> tuple[Grant, ...]:
        return rabbitmq_grants(handle, publish, consume, native)

    def create(self, handle: IsolatedBroker, username: str, password: str, grants: tuple[Grant, ...]) -> BrokerEndpoint:
        vhost = _vhost(handle)
        if handle.namespace not in self._tracing:
            self._tracing[handle.namespace] = self._start_tracing(handle, vhost)
        patterns = {grant.permission: grant.pattern for grant in grants}
        self._evaluate(
            f"ok = rabbit_auth_backend_internal:add_user({erlang_bytes(username)}, {erlang_bytes(password)}, Actor), "
            f"ok = rabbit_auth_backend_internal:set_permissions({erlang_bytes(username)}, {erlang_bytes(vhost)}, "
            + ", ".join(erlang_bytes(patterns[permission]) for permission in PERMISSIONS)
            + ", Actor)."
        )
        tracing = self._tracing[handle.namespace]
        tracing.channel.queue_bind(TRACE_QUEUE, TRACE_EXCHANGE, arguments={"x-match": "any", "user": username})
        return dataclasses.replace(handle.endpoint, username=username, password=password)

    def _start_tracing(self, handle: IsolatedBroker, vhost: str) -> _Tracing:
        import secrets

        import pika

        from pytest_ipc.brokers.rabbitmq import connection_parameters

        login, password = f"{handle.namespace}-tracer", secrets.token_hex(12)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._evaluate(
            f"ok = rabbit_auth_backend_internal:add_user({erlang_bytes(login)}, {erlang_bytes(password)}, Actor), "
            f"ok = rabbit_auth_backend_internal:set_permissions({erlang_bytes(login)}, {erlang_bytes(vhost)}, "
            f"{erlang_bytes('^pytest-ipc')}, {erlang_bytes('^pytest-ipc')}, {erlang_bytes('^(pytest-ipc|amq.rabbitmq.trace)')}, Actor), "
            f"ok = rabbit_trace:start({erlang_bytes(vhost)})."
        )
        server = dataclasses.replace(handle.server.endpoint, username=login, password=password)
        parameters = connection_parameters(server, vhost)
        connection = pika.BlockingConnection(parameters)
        channel = connection.channel()
        channel.exchange_declare(TRACE_EXCHANGE, "headers", auto_delete=False)
        channel.exchange_bind(TRACE_EXCHANGE, "amq.rabbitmq.trace", "#")
        channel.queue_declare(TRACE_QUEUE)
        return _Tracing(login, channel, connection, offset)

    def observe(self, handle: IsolatedBroker, username: str) -> tuple[list[Operation], list[Operation]]:
        tracing = self._tracing[handle.namespace]
        while True:
            method, properties, _ = tracing.channel.basic_get(TRACE_QUEUE, auto_ack=True)
            if method is None or properties is None:
                break
            tracing.traces.append((str(method.routing_key), dict(properties.headers or {})))
        used: list[Operation] = []
        for key, headers in tracing.traces:
            if headers.get("user") != username:
                continue
            event, _, name = key.partition(".")
            if event == "publish":
                used.append(Operation("write", name or "amq.default", "exchange", "basic.publish"))
            elif event == "deliver":
                used.append(Operation("read", name, "queue", "basic.get/basic.consume"))
        vhost = _vhost(handle)
        declared = self._evaluate(
            f"[binary_to_list(element(4, amqqueue:get_name(Q))) || Q <- rabbit_amqqueue:list({erlang_bytes(vhost)}), "
            f"maps:get(user, amqqueue:get_options(Q), none) =:= {erlang_bytes(username)}]."
        )
        used.extend(Operation("configure", name, "queue", "queue.declare") for name in _strings(declared))
        return used, self._refused(tracing.log_offset, vhost, username)

    def _refused(self, offset: int, vhost: str, username: str) -> list[Operation]:
        # The node's log handler writes with a delay: flush it first.
        self._evaluate("[catch M:filesync(Id) || #{id := Id, module := M} <- logger:get_handler_config()], ok.")
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        refused = []
        for match in REFUSED.finditer(text):
            if match["user"] == username and match["vhost"] == vhost:
                command, kind = match["command"], match["kind"]
                permission = _PERMISSION_OF.get(command) or ("write" if kind == "queue" else "read")
                refused.append(Operation(permission, match["resource"], kind, command))
        refused.extend(
            Operation("login", match["vhost"], "vhost", "connection.open")
            for match in VHOST_REFUSED.finditer(text)
            if match["user"] == username
        )
        return refused

    def remove(self, handle: IsolatedBroker, usernames: Sequence[str]) -> None:
        tracing = self._tracing.pop(handle.namespace, None)
        logins = [*usernames, *([tracing.login] if tracing else [])]
        try:
            if tracing is not None:
                tracing.connection.close()
        finally:
            self._evaluate(
                f"rabbit_trace:stop({erlang_bytes(_vhost(handle))}), "
                + " ".join(
                    f"ok = rabbit_auth_backend_internal:delete_user({erlang_bytes(login)}, Actor)," for login in logins
                )
                + " ok."
            )

    def _evaluate(self, body: str) -> str:
        return self.shell.evaluate(f"Actor = {erlang_bytes(ACTING_USER)}, {body}")


def _vhost(handle: IsolatedBroker) -> str:
    vhost = handle.vhost
    if vhost is None:
        raise IpcUsageError("RabbitMQ users live in the test's vhost: this handle has none")
    return vhost


def _strings(erlang_list: str) -> list[str]:
    """``[[111,114],[97]]`` (strings as ``~w`` prints them) as Python strings."""
    inner = erlang_list.strip()[1:-1]
    return [bytes(int(code) for code in codes.split(",") if code).decode() for codes in re.findall(r"\[([\d,]*)\]", inner)]
