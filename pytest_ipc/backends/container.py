"""The ``container`` backend: any service as a container on a reachable Docker engine.

A `ContainerSpec` says what to run (image, named container ports, environment, command, a readiness
probe); `ContainerBackend` runs it through testcontainers with every port published on loopback
only, waits until the probe passes and hands back a `ContainerEndpoint` (host and host-side ports by
name). Broker fixtures describe their broker once as a spec::

    def amqp_ready(endpoint: ContainerEndpoint) -> bool:
        params = pika.ConnectionParameters(endpoint.host, endpoint.ports["amqp"], socket_timeout=2)
        pika.BlockingConnection(params).close()  # raising means "not ready yet"
        return True

    backend = ContainerBackend(
        ContainerSpec("rabbitmq:3.13", {"amqp": 5672, "stomp": 61613}, ready=amqp_ready)
    )
    if (reason := backend.unavailable_reason()) is not None:
        pytest.skip(reason)
    endpoint = backend.start()
    try:
        url = f"amqp://guest:guest@{endpoint.host}:{endpoint.ports['amqp']}/"
        ...
        backend.kill_container()   # a crash; start_container() brings it back on the same ports
    finally:
        backend.stop()             # removes the container

Every container and network carries its owner's token (`owner_labels()`), and the owner's record
names the engine, so that the owner's watchdog removes them if the owner dies without tearing down
(`pytest_ipc._lifecycle`). Host ports are reserved on loopback for the container's life: a restart
gets them back, and no other worker takes them meanwhile.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_ipc import docker_engine
from pytest_ipc._errors import IpcError, IpcUsageError
from pytest_ipc._lifecycle import watch
from pytest_ipc._net import LOOPBACK
from pytest_ipc._owner import OWNER_LABEL
from pytest_ipc.backends.local import ADDRESS_IN_USE, reserve_port

if TYPE_CHECKING:
    from docker.models.containers import Container
    from testcontainers.core.container import DockerContainer

POLL_INTERVAL = 0.1
PORT_ATTEMPTS = 3
#: `ContainerSpec.network` for the host's network namespace.
HOST_NETWORK = "host"
#: How long a killed container may take to be reported exited (its processes die at once).
KILL_TIMEOUT = 10.0


class ContainerStartError(IpcError):
    """A container exited, published no port or never became ready; the message carries its output."""


@dataclass(frozen=True)
class ContainerEndpoint:
    """Where a started container is reached from the test process."""

    host: str
    ports: Mapping[str, int]
    container_id: str


ReadinessProbe = Callable[[ContainerEndpoint], bool]


@dataclass(frozen=True)
class ContainerSpec:
    """What to run. `ports` names container-side TCP ports, e.g. {"amqp": 5672, "stomp": 61613}.

    A missing image makes the backend unavailable unless `pull` allows pulling it on start (which
    needs a reachable registry). `volumes` maps host paths to container paths, mounted read-only;
    `writable_volumes` likewise, read-write (files the service writes for the test process). `network` (from
    `private_network()`) and `network_aliases` let containers reach each other by name; `HOST_NETWORK`
    puts the container in the host's network namespace instead (an engine on this machine only): the
    service binds host loopback ports itself and reaches the test process's listeners, nothing is
    published, and `ports` should be empty. `entrypoint` replaces the image's (whose scripts may
    switch users or rewrite config), `user` ("uid:gid") is who the service runs as (the test
    process's own, so that what it writes in a mounted directory is ours to remove), `workdir` its
    working directory, and `name` the container's name (for ``docker logs``; unique on the engine).
    `ready` is polled with the host-side endpoint until it returns True; an exception counts as
    "not yet" (the last one is reported on timeout); give its clients short timeouts, a probe that
    hangs holds up the start. Without it the container only has to be
    running: docker-proxy accepts TCP connections on published ports before the service inside
    listens, so a real service needs a protocol-level probe.
    """

    image: str
    ports: Mapping[str, int]
    env: Mapping[str, str] = field(default_factory=dict)
    command: Sequence[str] | None = None
    ready: ReadinessProbe | None = None
    ready_timeout: float = 60.0
    network: str | None = None
    network_aliases: Sequence[str] = ()
    volumes: Mapping[str, str] = field(default_factory=dict)
    pull: bool = False
    writable_volumes: Mapping[str, str] = field(default_factory=dict)
    entrypoint: Sequence[str] | None = None
    user: str | None = None
    workdir: str | None = None
    name: str | None = None


def host_network_reason() -> str | None:
    """None when containers can share this machine's network namespace (`HOST_NETWORK`), else why not."""
    if docker_engine.engine_is_local():
        return None
    return f"the engine at {docker_engine.docker_host()} is remote: host networking needs a local one"


def owner_labels() -> dict[str, str]:
    """Labels that tie a container or network to this process; the engine goes into the owner's
    record first, so that whoever reaps after us knows where to look."""
    record = watch()
    record.note_engine(docker_engine.docker_host())
    return {OWNER_LABEL: record.token}


class ContainerBackend:
    """Runs one `ContainerSpec`; `start` returns its `ContainerEndpoint`, `stop` removes it."""

    name = "container"

    def __init__(self, spec: ContainerSpec) -> None:
        self.spec = spec
        self._container: DockerContainer | None = None
        self._endpoint: ContainerEndpoint | None = None
        self._reservations: list[socket.socket] = []

    def unavailable_reason(self) -> str | None:
        reason = docker_engine.docker_unavailable_reason()
        if reason is None and self.spec.network == HOST_NETWORK:
            reason = host_network_reason()
        return reason or docker_engine.missing_image_reason(self.spec.image, self.spec.pull)

    def start(self) -> ContainerEndpoint:
        """Create and start the container, wait until it is ready; nothing is left on failure."""
        if self._container is not None:
            raise IpcUsageError(f"container for {self.spec.image} already started; stop() it first")
        docker_engine.ensure_image(self.spec.image, self.spec.pull)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._container = self._create()
                with docker_engine.ryuk_disabled():
                    self._container.start()
                self._endpoint = self._read_endpoint(self._container)
                return self._wait_until_ready()
            except Exception as error:
                self.stop()
                # Without published ports, no port of ours can change: another attempt would lose again.
                if attempt == PORT_ATTEMPTS or not self.spec.ports or not lost_port_race(error):
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self) -> None:
        """Remove the container (forcefully: test brokers need no graceful shutdown) and give its
        ports back. Idempotent."""
        container, self._container = self._container, None
        self._endpoint = None
        try:
            if container is not None:
                import docker.errors

                try:
                    container.stop(force=True, delete_volume=True)
                except docker.errors.NotFound:  # already gone (removed by hand or by a reaper)
                    container.get_docker_client().client.close()
        finally:
            for reservation in self._reservations:
                reservation.close()
            self._reservations = []

    @property
    def endpoint(self) -> ContainerEndpoint:
        """The running container's endpoint; it keeps its ports across the controls below."""
        if self._endpoint is None:
            raise IpcUsageError(f"container for {self.spec.image} is not started")
        return self._endpoint

    def stop_container(self, timeout: float = 10.0) -> None:
        """Stop the service gracefully (SIGTERM, SIGKILL after `timeout` s); the container stays."""
        self._running_container().stop(timeout=round(timeout))

    def kill_container(self) -> None:
        """Kill the service (SIGKILL: no goodbye to clients); the container and its data stay.
        Returns once the container has exited, so that a start after it starts it afresh."""
        container = self._running_container()
        container.kill()
        container.wait(timeout=KILL_TIMEOUT)

    def pause_container(self) -> None:
        """Freeze every process of the container (the cgroup freezer, as ``docker pause``): it keeps
        its sockets and answers nothing, the container's SIGSTOP."""
        self._running_container().pause()

    def unpause_container(self) -> None:
        """Thaw a paused container (``docker unpause``)."""
        self._running_container().unpause()

    def start_container(self) -> ContainerEndpoint:
        """Start a stopped or killed container again, on the same ports, and wait until it is ready."""
        self._running_container().start()
        return self._wait_until_ready()

    def signal(self, name: str) -> None:
        """Send signal `name` (e.g. ``"SIGHUP"``) to the container's main process, as ``docker kill
        --signal`` does: no tool inside the image is needed."""
        self._running_container().kill(signal=name)

    def exec(self, command: list[str]) -> str:
        """Run `command` in the running container (as `docker exec` does) and return its output; a
        failing command raises `ContainerStartError` with that output."""
        code, output = self._running_container().exec_run(command)
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        if code != 0:
            raise ContainerStartError(f"{' '.join(command[:2])} in the {self.spec.image} container failed ({code}): {text.strip()}")
        return text

    def logs(self) -> str:
        """The container's output so far (stdout and stderr), for diagnostics."""
        if self._container is None:
            return ""
        stdout, stderr = self._container.get_logs()
        return (stdout + stderr).decode(errors="replace")

    def _create(self) -> DockerContainer:
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(self.spec.image, env=dict(self.spec.env))
        if self.spec.command is not None:
            container.with_command(list(self.spec.command))
        if self.spec.name is not None:
            container.with_name(self.spec.name)
        for host_path, container_path in self.spec.volumes.items():
            container.with_volume_mapping(host_path, container_path, mode="ro")
        for host_path, container_path in self.spec.writable_volumes.items():
            container.with_volume_mapping(host_path, container_path, mode="rw")
        # Host ports are chosen here, not by the engine, which would pick new ones on every restart.
        # testcontainers types them as int; docker-py also takes (host_ip, port), and we need the IP.
        for port in self.spec.ports.values():
            container.ports[f"{port}/tcp"] = self._host_binding()  # type: ignore[assignment]
        container.with_kwargs(labels=owner_labels(), **_network_kwargs(self.spec), **_process_kwargs(self.spec))
        return container

    def _host_binding(self) -> tuple[str, int | None]:
        """A reserved loopback port for a local engine; for a remote one, its pick on all its interfaces."""
        if not docker_engine.engine_is_local():
            return ("0.0.0.0", None)
        reservation = reserve_port()
        self._reservations.append(reservation)
        return (LOOPBACK, reservation.getsockname()[1])

    def _running_container(self) -> Container:
        if self._container is None:
            raise IpcUsageError(f"container for {self.spec.image} is not started")
        return self._container.get_wrapped_container()

    def _read_endpoint(self, container: DockerContainer) -> ContainerEndpoint:
        """Host ports as bound: ours from the create request, the engine's picks once it published them."""
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        requested = wrapped.attrs["HostConfig"]["PortBindings"]
        published = wrapped.attrs["NetworkSettings"]["Ports"] or {}
        ports = {}
        for name, port in self.spec.ports.items():
            bindings = [binding for binding in requested[f"{port}/tcp"] if binding["HostPort"]]
            bindings = bindings or published.get(f"{port}/tcp") or []
            if not bindings:
                status = wrapped.status
                raise ContainerStartError(
                    f"container {self.spec.image} ({status}) published no port {port}:\n{self.logs()}"
                )
            ports[name] = int(bindings[0]["HostPort"])
        return ContainerEndpoint(docker_engine.published_host(), ports, container.get_container_id())

    def _wait_until_ready(self) -> ContainerEndpoint:
        container, endpoint = self._running_container(), self.endpoint
        deadline = time.monotonic() + self.spec.ready_timeout
        last_problem = "no attempt yet"
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                raise ContainerStartError(
                    f"container {self.spec.image} {container.status} while starting:\n{self.logs()}"
                )
            if container.status == "running":
                if self.spec.ready is None:
                    return endpoint
                try:
                    if self.spec.ready(endpoint):
                        return endpoint
                    last_problem = "the probe returned False"
                except Exception as error:  # whatever a probe raises means "not yet"
                    last_problem = f"{type(error).__name__}: {error}"
            if time.monotonic() > deadline:
                raise ContainerStartError(
                    f"container {self.spec.image} not ready within {self.spec.ready_timeout} s "
                    f"({last_problem}); its output:\n{self.logs()}"
                )
            time.sleep(POLL_INTERVAL)


@contextlib.contextmanager
def private_network() -> Iterator[str]:
    """A bridge network for containers that talk to each other, labelled with its owner like them.

    Yields its name (give it to `ContainerSpec.network`); removes it on exit.
    """
    import docker
    import docker.errors

    labels = owner_labels()
    client = docker.from_env(timeout=docker_engine.PING_TIMEOUT)  # type: ignore[arg-type]  # requests takes a float; the stubs say int
    network = client.networks.create(f"pytest-ipc-{uuid.uuid4().hex[:12]}", driver="bridge", labels=labels)
    try:
        yield str(network.name)
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # removed by hand already
            network.remove()
        client.close()


def lost_port_race(error: Exception) -> bool:
    """True when a host port could not be bound (by the engine, or by the container's own server on
    the host's network): a program that binds fixed ports took it. Start again on other ports."""
    text = str(error)
    return ADDRESS_IN_USE.search(text) is not None or "port is already allocated" in text


def _process_kwargs(spec: ContainerSpec) -> dict[str, object]:
    """How the service's process runs: entrypoint, user and working directory, where the spec says."""
    given = {"entrypoint": list(spec.entrypoint) if spec.entrypoint is not None else None, "user": spec.user, "working_dir": spec.workdir}
    return {key: value for key, value in given.items() if value is not None}


def _network_kwargs(spec: ContainerSpec) -> dict[str, object]:
    """Always name the network: without one testcontainers guesses it when it finds /.dockerenv."""
    if spec.network is None:
        return {"network": "bridge"}
    from docker.constants import DEFAULT_DOCKER_API_VERSION
    from docker.types import EndpointConfig

    endpoint = EndpointConfig(DEFAULT_DOCKER_API_VERSION, aliases=list(spec.network_aliases) or None)
    return {"network": spec.network, "networking_config": {spec.network: endpoint}}


__all__ = [
    "HOST_NETWORK",
    "ContainerBackend",
    "ContainerEndpoint",
    "ContainerSpec",
    "ContainerStartError",
    "ReadinessProbe",
    "host_network_reason",
    "lost_port_race",
    "owner_labels",
    "private_network",
]
