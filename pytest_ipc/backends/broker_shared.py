"""A ``local`` or ``container`` broker shared between processes: kept by a keeper (`pytest_ipc._shared`).

Local: the keeper starts the kind's `LocalBroker` and writes where it listens and its session login;
each user process attaches a copy of that `LocalBroker` to it (same ports, login and directory), so
the per-test isolation is the local backend's own: a vhost per test from the process's own vhost pool
on RabbitMQ (administered through the keeper's Erlang control node, over a Unix socket), a key,
subject or topic prefix per test on the others.

Container: the keeper runs the kind's `ContainerBroker` (the container carries the keeper's owner
label: it outlives the session that asked for it, not its keeper) and writes its endpoint; each user
process isolates its tests on that endpoint as the container backend does (the kind's isolation of a
broker we do not own: prefixed names on RabbitMQ without management, key, subject or topic prefixes
on the others).

The broker is not this process's to stop, kill or restart:
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
from pytest_ipc.brokers.errors import BrokerControlError, BrokerError, NoCrashControls

if TYPE_CHECKING:
    from pytest_ipc.backends.broker_container import ContainerBroker
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


class KeptContainerBroker(Kept):
    """A broker in a container, run by the keeper: users find it by its endpoint."""

    def __init__(self, kind: BrokerKind, image: str) -> None:
        from pytest_ipc.backends.broker_container import ContainerBroker
        from pytest_ipc.brokers.kinds import KINDS

        spec = KINDS[kind]
        self.broker: ContainerBroker = ContainerBroker(
            kind, spec.container(image), spec.external_isolation, users=spec.external_users, container_users=spec.container_users
        )
        self.broker.start()
        endpoint = self.broker.endpoint
        self.state = {
            "kind": kind,
            "backend": "container",
            "image": image,
            "container_id": self.broker.container_id,
            "endpoint": {
                "host": endpoint.host,
                "port": endpoint.port,
                "username": endpoint.username,
                "password": endpoint.password,
                "extra_ports": endpoint.extra_ports,
            },
        }

    def stop(self) -> None:
        self.broker.stop()


def keep_broker(key: str, recipe: dict[str, Any]) -> Kept:
    """The keeper's start of a shared broker of ``recipe["kind"]`` on ``recipe["backend"]``."""
    if recipe.get("backend", "local") == "container":
        return KeptContainerBroker(recipe["kind"], recipe["image"])
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


class AttachedContainer:
    """A kept container broker seen from a user process: its endpoint, the container backend's
    isolation and per-test users on it (RabbitMQ's through ``rabbitmqctl`` in the container)."""

    def __init__(self, kind: BrokerKind, state: dict[str, Any]) -> None:
        self.kind = kind
        self.container_id: str = state["container_id"]
        self.endpoint = BrokerEndpoint(kind, **state["endpoint"])

    def isolation(self) -> Isolation:
        from pytest_ipc.brokers.kinds import KINDS

        return KINDS[self.kind].external_isolation(self.endpoint, "")

    def user_admin(self) -> UserAdmin:
        from pytest_ipc.brokers.kinds import KINDS
        from pytest_ipc.brokers.privileges import users_of_broker_not_ours

        spec = KINDS[self.kind]
        if spec.container_users is not None:
            return spec.container_users(self.endpoint, self._exec)
        return users_of_broker_not_ours(self.kind, "container", self.endpoint, spec.external_users)

    def _exec(self, command: list[str]) -> str:
        """`command` run in the kept container, as `ContainerBackend.exec` runs it in one of ours."""
        import docker

        from pytest_ipc.backends.container import ContainerStartError

        client = docker.from_env()  # the SDK's timeout (60 s), as for our own containers: rabbitmqctl boots a VM
        try:
            code, output = client.containers.get(self.container_id).exec_run(command)
        finally:
            client.close()
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        if code != 0:
            raise ContainerStartError(f"{' '.join(command[:2])} in the kept {self.kind} container failed ({code}): {text.strip()}")
        return text


class SharedBroker(NoCrashControls):
    """The runtime of a broker shared through a lease: the backend's own isolation on it, no crash
    controls. `stop` gives the lease back (the keeper stops the broker when nobody holds one)."""

    def __init__(self, lease: Lease, reuse: bool) -> None:
        from pytest_ipc.brokers.kinds import KINDS
        from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ

        state = lease.state
        self.lease = lease
        self.kind: BrokerKind = state["kind"]
        self.name: str = state.get("backend", "local")
        self.tls: ListenerTls | None = None
        self.scope = "sessions (--ipc-reuse)" if reuse else "xdist workers (--ipc-brokers-share workers)"
        self._unshared = "run without --ipc-reuse" if reuse else "run with --ipc-brokers-share off"
        self._shell: RemoteShell | None = None
        if self.name == "container":
            self._attached: Any = AttachedContainer(self.kind, state)
            return
        attached = KINDS[self.kind].local(None)
        attached.ports = {name: int(port) for name, port in state["ports"].items()}
        attached.username, attached.password = state["username"], state["password"]
        attached._base = Path(state["base"])
        if isinstance(attached, LocalRabbitMQ):
            self._shell = RemoteShell(state["shell"])
            attached._shell = self._shell  # type: ignore[assignment]  # duck-typed: `evaluate` only
        self._attached = attached

    @property
    def endpoint(self) -> BrokerEndpoint:
        endpoint: BrokerEndpoint = self._attached.endpoint
        return endpoint

    def isolation(self) -> Isolation:
        isolation: Isolation = self._attached.isolation()
        return isolation

    def user_admin(self) -> UserAdmin:
        """Per-test users, where the kind administers them without owning the process."""
        if self.kind in ("nats", "mqtt"):  # their users reload the broker's files and read its log
            raise BrokerControlError(
                f"per-test {self.kind} users need a broker of this process; ask the test for the "
                f"{self.kind}_server fixture, or {self._unshared}"
            )
        admin: UserAdmin = self._attached.user_admin()
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
            f"crash controls), or {self._unshared}"
        )


__all__ = ["AttachedContainer", "KeptBroker", "KeptContainerBroker", "RemoteShell", "SharedBroker", "keep_broker"]
