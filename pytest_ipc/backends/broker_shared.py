"""The ``local`` broker shared between processes: kept by a keeper (`pytest_ipc._shared`), used here.

The keeper starts the kind's `LocalBroker` and writes where it listens and its session login; each
user process attaches a copy of that `LocalBroker` to it (same ports, login and directory), so the
per-test isolation is the local backend's own: a vhost per test from the process's own vhost pool on
RabbitMQ (administered through the keeper's Erlang control node, over a Unix socket), a key, subject
or topic prefix per test on the others. The broker is not this process's to stop, kill or restart:
crash controls raise `BrokerControlError` (a test that asks for the ``<kind>_server`` fixture gets a
private broker with crash controls instead).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ipc._shared import Kept, Lease, serve_lines, shared_dir
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.errors import BrokerControlError, BrokerError

if TYPE_CHECKING:
    from pytest_ipc.brokers.handles import Isolation
    from pytest_ipc.brokers.privileges import UserAdmin
    from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ
    from pytest_ipc.brokers.tls import ListenerTls


class KeptBroker(Kept):
    """A local broker in the keeper; RabbitMQ's control node answers users on a Unix socket."""

    def __init__(self, key: str, kind: BrokerKind) -> None:
        from pytest_ipc.brokers.kinds import KINDS
        from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ

        self.broker = KINDS[kind].local(None)
        self.broker.start()
        self._listener: socket.socket | None = None
        self.state: dict[str, Any] = {
            "kind": kind,
            "ports": self.broker.ports,
            "username": self.broker.username,
            "password": self.broker.password,
            "base": str(self.broker.base),
        }
        if isinstance(self.broker, LocalRabbitMQ):
            path = shared_dir() / f"{key}.sock"
            self._listener = serve_lines(path, _evaluator(self.broker))
            self.state["shell"] = str(path)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.broker.stop()


def _evaluator(broker: LocalRabbitMQ) -> Callable[[str], str]:
    shell = broker.shell

    def answer(line: str) -> str:
        try:
            return "O" + shell.evaluate(line)
        except BrokerError as error:
            return "E" + json.dumps(str(error))

    return answer


def keep_local_broker(key: str, recipe: dict[str, Any]) -> Kept:
    """The keeper's start of a shared local broker of ``recipe["kind"]``."""
    return KeptBroker(key, recipe["kind"])


class RemoteShell:
    """The keeper's Erlang control node, seen from a user process: `evaluate` as `ErlangShell`'s."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stream: Any = None

    def evaluate(self, expression: str) -> str:
        with self._lock:
            try:
                if self._stream is None:
                    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    connection.connect(self._path)
                    self._stream = connection.makefile("rwb")
                    connection.close()  # the stream keeps the socket open
                self._stream.write(expression.encode() + b"\n")
                self._stream.flush()
                answer: str = self._stream.readline().decode().rstrip("\n")
            except OSError as error:
                self.close()
                raise BrokerError(f"the shared RabbitMQ's keeper does not answer at {self._path}: {error}") from None
        if not answer:
            self.close()
            raise BrokerError(f"the shared RabbitMQ's keeper closed its control socket {self._path}")
        if answer.startswith("E"):
            raise BrokerError(str(json.loads(answer[1:])))
        return answer[1:]

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class SharedBroker:
    """The runtime of a broker shared through a lease: the kind's local isolation on it, no crash
    controls. `stop` gives the lease back (the keeper stops the broker when nobody holds one)."""

    name = "local"

    def __init__(self, lease: Lease, reuse: bool) -> None:
        from pytest_ipc.brokers.kinds import KINDS
        from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ

        state = lease.state
        self.lease = lease
        self.kind: BrokerKind = state["kind"]
        self.tls: ListenerTls | None = None
        self.scope = "sessions (--ipc-reuse)" if reuse else "xdist workers (--ipc-brokers-share workers)"
        attached = KINDS[self.kind].local(None)
        attached.ports = {name: int(port) for name, port in state["ports"].items()}
        attached.username, attached.password = state["username"], state["password"]
        attached._base = Path(state["base"])
        self._shell: RemoteShell | None = None
        if isinstance(attached, LocalRabbitMQ):
            self._shell = RemoteShell(state["shell"])
            attached._shell = self._shell  # type: ignore[assignment]  # duck-typed: `evaluate` only
        self._attached = attached

    @property
    def endpoint(self) -> BrokerEndpoint:
        return self._attached.endpoint

    def isolation(self) -> Isolation:
        return self._attached.isolation()

    def user_admin(self) -> UserAdmin:
        """Per-test users, where the kind administers them without owning the process."""
        if self.kind in ("nats", "mqtt"):  # their users reload the broker's files and read its log
            raise BrokerControlError(
                f"per-test {self.kind} users need a broker of this process; ask the test for the "
                f"{self.kind}_server fixture, or run with --ipc-brokers-share off"
            )
        admin: UserAdmin = self._attached.user_admin()  # type: ignore[attr-defined]
        return admin

    def start(self) -> SharedBroker:
        return self

    def stop(self) -> None:
        if self._shell is not None:
            self._shell.close()
        self.lease.release()

    def _not_ours(self) -> BrokerControlError:
        return BrokerControlError(
            f"this {self.kind} broker is shared by {self.scope}: stopping, killing or restarting it would "
            f"reach other tests; ask the test for the {self.kind}_server fixture (a broker of its own with "
            "crash controls), or run with --ipc-brokers-share off"
        )

    def stop_broker(self) -> None:
        raise self._not_ours()

    def kill_broker(self) -> None:
        raise self._not_ours()

    def start_broker(self) -> None:
        raise self._not_ours()


__all__ = ["KeptBroker", "RemoteShell", "SharedBroker", "keep_local_broker"]
