"""Per-test RabbitMQ users on a broker we do not own (container, external), with the evidence read
off the wire.

The login is made through the broker's own administration: the management API of an external
broker (``?management=PORT`` in its URL; the URL's login must be an administrator), or
``rabbitmqctl`` inside a container. Its node's log and Erlang shell are out of reach, so each user
connects through a recorder of its own (`pytest_ipc._relay.Relay` on loopback) that decodes the
AMQP 0-9-1 frames both ways: what the login asked for (declares, binds, publishes, consumes, gets)
is what it used, and each ACCESS_REFUSED close the broker sent it (the same text the node logs) is
what it was refused. An operation the broker refused is not counted as used.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc._relay import Relay
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.brokers.privileges import Grant, Operation
from pytest_ipc.brokers.rabbitmq_users import _PERMISSION_OF, PERMISSIONS, VHOST_REFUSED, rabbitmq_grants

if TYPE_CHECKING:
    from pytest_ipc.brokers.endpoint import BrokerEndpoint
    from pytest_ipc.brokers.handles import IsolatedBroker

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_END = 1, 0xCE
ACCESS_REFUSED = 403
# (class, method) of the AMQP methods that take a permission, and of the closes that carry a refusal.
METHODS = {
    (40, 10): "exchange.declare",
    (40, 20): "exchange.delete",
    (50, 10): "queue.declare",
    (50, 20): "queue.bind",
    (50, 30): "queue.purge",
    (50, 40): "queue.delete",
    (60, 20): "basic.consume",
    (60, 40): "basic.publish",
    (60, 70): "basic.get",
}
DECLARE_OK = (50, 11)
CLOSES = {(20, 40), (10, 50)}  # channel.close, connection.close
# What the broker says in the close: "ACCESS_REFUSED - access to queue 'q' in vhost 'v' refused for user 'u'".
WIRE_REFUSED = re.compile(r"access to (?P<kind>queue|exchange|topic) '(?P<resource>.*)' in vhost '(?P<vhost>.*)' refused for user")


class RabbitAdmin(Protocol):
    """How users are made and removed on a broker we do not own."""

    def add_user(self, username: str, password: str) -> None: ...

    def set_permissions(self, vhost: str, username: str, configure: str, write: str, read: str) -> None: ...

    def delete_user(self, username: str) -> None: ...


class ManagementAdmin:
    """Users through the management plugin's HTTP API (an external broker's ``?management=PORT``)."""

    def __init__(self, api_url: str, username: str, password: str) -> None:
        import httpx

        self._http = httpx.Client(base_url=api_url.rstrip("/"), auth=(username, password), timeout=30)
        self._where = api_url

    def add_user(self, username: str, password: str) -> None:
        self._call("PUT", f"/api/users/{quote(username, safe='')}", {"password": password, "tags": ""})

    def set_permissions(self, vhost: str, username: str, configure: str, write: str, read: str) -> None:
        permissions = {"configure": configure, "write": write, "read": read}
        self._call("PUT", f"/api/permissions/{quote(vhost, safe='')}/{quote(username, safe='')}", permissions)

    def delete_user(self, username: str) -> None:
        self._call("DELETE", f"/api/users/{quote(username, safe='')}")

    def _call(self, method: str, path: str, body: object = None) -> None:
        answer = self._http.request(method, path, json=body)
        if answer.status_code == 404 and method == "DELETE":
            return
        if answer.status_code in (401, 403):
            raise IpcUsageError(
                f"the RabbitMQ management API at {self._where} refused {method} {path} ({answer.status_code}): per-test users "
                "need the URL's login to be an administrator (tag administrator)"
            )
        answer.raise_for_status()


class ControlAdmin:
    """Users through ``rabbitmqctl`` run inside the broker's container (`run` executes a command there)."""

    def __init__(self, run: Callable[[list[str]], str]) -> None:
        self._run = run

    def add_user(self, username: str, password: str) -> None:
        self._run(["rabbitmqctl", "add_user", username, password])

    def set_permissions(self, vhost: str, username: str, configure: str, write: str, read: str) -> None:
        self._run(["rabbitmqctl", "set_permissions", "-p", vhost, username, configure, write, read])

    def delete_user(self, username: str) -> None:
        self._run(["rabbitmqctl", "delete_user", username])


def _shortstr(payload: bytes, offset: int) -> tuple[str, int]:
    length = payload[offset]
    return payload[offset + 1 : offset + 1 + length].decode(errors="replace"), offset + 1 + length


class AmqpRecorder:
    """Decodes the AMQP frames of one login's connections, both ways, into used and refused operations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffers: dict[tuple[int, str], bytearray] = {}
        self._headers_seen: set[int] = set()
        self._unnamed_declares: dict[tuple[int, int], int] = {}  # (connection, channel) -> declares awaiting their name
        self.used: list[Operation] = []
        self.refused: list[Operation] = []

    def client(self, connection: int, data: bytes) -> None:
        self._feed(connection, "client", data)

    def server(self, connection: int, data: bytes) -> None:
        self._feed(connection, "server", data)

    def _feed(self, connection: int, side: str, data: bytes) -> None:
        with self._lock:
            buffer = self._buffers.setdefault((connection, side), bytearray())
            buffer += data
            if side == "client" and connection not in self._headers_seen:
                if len(buffer) < len(PROTOCOL_HEADER):
                    return
                del buffer[: len(PROTOCOL_HEADER)]
                self._headers_seen.add(connection)
            while len(buffer) >= 7:
                kind, channel, size = struct.unpack_from(">BHI", buffer)
                if len(buffer) < 8 + size:
                    return
                payload = bytes(buffer[7 : 7 + size])
                del buffer[: 8 + size]
                if kind == FRAME_METHOD and size >= 4:
                    self._method(connection, channel, side, payload)

    def _method(self, connection: int, channel: int, side: str, payload: bytes) -> None:
        ids = struct.unpack_from(">HH", payload)
        try:
            if side == "client" and ids in METHODS:
                self._asked(connection, channel, METHODS[ids], payload)
            elif side == "server" and ids == DECLARE_OK and self._unnamed_declares.get((connection, channel)):
                self._unnamed_declares[connection, channel] -= 1
                name, _ = _shortstr(payload, 4)
                self.used.append(Operation("configure", name, "queue", "queue.declare"))
            elif side == "server" and ids in CLOSES:
                self._closed(payload)
        except (IndexError, struct.error):  # a frame we cannot read proves nothing either way
            return

    def _asked(self, connection: int, channel: int, command: str, payload: bytes) -> None:
        first, offset = _shortstr(payload, 6)  # after class, method and the reserved short
        if command == "basic.publish":
            self.used.append(Operation("write", first or "amq.default", "exchange", command))
        elif command in ("basic.consume", "basic.get", "queue.purge"):
            self.used.append(Operation("read", first, "queue", command))
        elif command == "queue.bind":
            exchange, _ = _shortstr(payload, offset)
            self.used += [Operation("write", first, "queue", command), Operation("read", exchange, "exchange", command)]
        elif command in ("queue.declare", "exchange.declare"):
            if command == "exchange.declare":
                _, offset = _shortstr(payload, offset)  # the exchange type
            passive = bool(payload[offset] & 1)
            kind = command.split(".")[0]
            if passive:
                return  # a passive declare only asks whether it exists
            if first:
                self.used.append(Operation("configure", first, kind, command))
            else:  # a server-named queue: its name comes in declare-ok
                self._unnamed_declares[connection, channel] = self._unnamed_declares.get((connection, channel), 0) + 1
        elif command in ("queue.delete", "exchange.delete"):
            self.used.append(Operation("configure", first, command.split(".")[0], command))

    def _closed(self, payload: bytes) -> None:
        (code,) = struct.unpack_from(">H", payload, 4)
        if code != ACCESS_REFUSED:
            return
        text, offset = _shortstr(payload, 6)
        command = METHODS.get(struct.unpack_from(">HH", payload, offset), "")
        if (match := WIRE_REFUSED.search(text)) is not None:
            kind = match["kind"]
            permission = _PERMISSION_OF.get(command) or ("write" if kind == "queue" else "read")
            self.refused.append(Operation(permission, match["resource"], kind, command))
        elif (vhost := VHOST_REFUSED.search(text)) is not None:
            self.refused.append(Operation("login", vhost["vhost"], "vhost", "connection.open"))

    def operations(self) -> tuple[list[Operation], list[Operation]]:
        """(used, refused) so far; what was refused is not counted as used."""
        with self._lock:
            refused = list(self.refused)
            denied = {(operation.permission, operation.resource) for operation in refused}
            return [operation for operation in self.used if (operation.permission, operation.resource) not in denied], refused


@dataclasses.dataclass
class _Recorded:
    relay: Relay
    recorder: AmqpRecorder


class WireRecordedUsers:
    """`UserAdmin` of a RabbitMQ we do not own: users made by `admin`, evidence from a recorder per user."""

    native = frozenset(PERMISSIONS)

    def __init__(self, admin: RabbitAdmin) -> None:
        self.admin = admin
        self._recorded: dict[str, _Recorded] = {}

    def grants(
        self, handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
    ) -> tuple[Grant, ...]:
        return rabbitmq_grants(handle, publish, consume, native)

    def create(self, handle: IsolatedBroker, username: str, password: str, grants: tuple[Grant, ...]) -> BrokerEndpoint:
        broker = handle.server.endpoint
        if broker.tls:
            raise IpcUsageError(
                "per-test RabbitMQ users on a broker not ours are recorded on the wire, which TLS hides: give the broker's "
                "plaintext AMQP URL (amqp://) for tests of least privilege"
            )
        vhost = handle.vhost or "/"
        patterns = {grant.permission: grant.pattern for grant in grants}
        recorder = AmqpRecorder()
        self.admin.add_user(username, password)
        try:
            self.admin.set_permissions(vhost, username, *(patterns.get(permission, "") for permission in PERMISSIONS))
        except Exception:
            self.admin.delete_user(username)  # no login of a failed user() is left behind
            raise
        relay = Relay(
            LOOPBACK, (broker.host, broker.port), on_client=recorder.client, on_server=recorder.server, name="pytest-ipc-amqp-recorder"
        )
        try:
            self._recorded[username] = _Recorded(relay.start(), recorder)
        except Exception:
            self.admin.delete_user(username)
            raise
        return dataclasses.replace(handle.endpoint, host=LOOPBACK, port=relay.port, username=username, password=password)

    def observe(self, handle: IsolatedBroker, username: str) -> tuple[list[Operation], list[Operation]]:
        recorded = self._recorded.get(username)
        if recorded is None:
            raise BrokerError(f"RabbitMQ user {username!r} was removed; report() before the test ends")
        return recorded.recorder.operations()

    def remove(self, handle: IsolatedBroker, usernames: Sequence[str]) -> None:
        problems: list[BaseException] = []
        for username in usernames:
            recorded = self._recorded.pop(username, None)
            if recorded is not None:
                recorded.relay.stop()
            try:
                self.admin.delete_user(username)
            except Exception as error:  # remove the others still; the first failure is raised after
                problems.append(error)
        if problems:
            raise problems[0]
