"""The ``container`` way of running a cluster's nodes: each program a container of the kind's image.

The container shares the host's network namespace (`HOST_NETWORK`), so that a node binds the
loopback ports the harness reserved and dials its peers through the fault proxy's loopback
listeners, as a local process does: every config file, RabbitMQ's private epmd registrations and
every proxy link work unchanged. Its node directory is mounted read-write at the same path, and it
runs as the test process's own user, so the files it writes stay ours to remove. The image's
entrypoint is replaced by the program itself (entrypoint scripts switch users and rewrite config).

A kill is ``docker kill`` (SIGKILL; a start after it starts the same container again, its files
kept), a pause the cgroup freezer (``docker pause``: every process of the container stops at once
and keeps its sockets). The generic container machinery (`pytest_ipc.backends.container`) runs it
and labels it with its owner, so the owner's watchdog removes it if the session dies.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from pytest_ipc.backends.container import HOST_NETWORK, ContainerBackend, ContainerEndpoint, ContainerSpec
from pytest_ipc.cluster.runner import Program


class ContainerNodeProcess:
    """A program of a node as a container in the host's network namespace."""

    def __init__(self, program: Program, image: str) -> None:
        self.program = program
        self.name = f"pytest-ipc-{program.name}-{secrets.token_hex(3)}"
        workdir = str(program.workdir)
        spec = ContainerSpec(
            image,
            {},
            env=dict(program.env),
            entrypoint=program.argv[:1],
            command=program.argv[1:],
            ready=self._ready if program.ready is not None else None,
            ready_timeout=program.ready_timeout,
            network=HOST_NETWORK,
            writable_volumes={workdir: workdir},
            user=f"{os.getuid()}:{os.getgid()}",
            workdir=workdir,
            name=self.name,
        )
        self._container = ContainerBackend(spec)
        self._created = False
        self._paused = False

    def _ready(self, endpoint: ContainerEndpoint) -> bool:
        assert self.program.ready is not None
        return self.program.ready()

    @property
    def container_id(self) -> str | None:
        """The container's id once created (it stays the same across kills and restarts)."""
        return self._container.endpoint.container_id if self._created else None

    def start(self) -> None:
        if not self._created:
            self._container.start()  # removes what it made if the start fails
            self._created = True
        else:
            self._container.start_container()

    def kill(self) -> None:
        import docker.errors

        if not self._created:
            return
        self.resume()  # the engine refuses to kill a paused container
        with contextlib.suppress(docker.errors.APIError):  # not running (killed already, or exited): nothing to kill
            self._container.kill_container()

    def pause(self) -> None:
        self._container.pause_container()
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._container.unpause_container()
            self._paused = False

    def stop(self) -> None:
        self._container.stop()  # removed by force, paused or not
        self._created = self._paused = False

    @property
    def output(self) -> str:
        return f"docker logs {self.name}"

    def __repr__(self) -> str:
        return f"ContainerNodeProcess({self.name!r}, created={self._created}, paused={self._paused})"


class ContainerNodes:
    """Nodes as containers of `image`; unavailable without a local engine that has the image."""

    name = "container"
    pause_method = "cgroup freezer"

    def __init__(self, image: str) -> None:
        self.image = image

    def unavailable_reason(self) -> str | None:
        return ContainerBackend(ContainerSpec(self.image, {}, network=HOST_NETWORK)).unavailable_reason()

    def process(self, program: Program) -> ContainerNodeProcess:
        return ContainerNodeProcess(program, self.image)


__all__ = ["ContainerNodeProcess", "ContainerNodes"]
