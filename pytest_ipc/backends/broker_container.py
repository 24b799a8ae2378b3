"""The ``container`` backend of a broker: a broker image run by `pytest_ipc.backends.container`.

The generic backend runs the container (ports published on loopback only, labelled for sweeping,
crash controls that keep the container, its data and its host ports); this module adds what a
broker needs on top: its endpoint, its isolation, and, for brokers whose logins and permissions live in
config files (NATS, Mosquitto), those files in a host directory mounted into the container, which
the kind's user admin rewrites and the broker reloads on SIGHUP.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pytest_ipc.backends.container import ContainerBackend, ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.local import make_private_dir
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.handles import Isolation, IsolationFactory
from pytest_ipc.brokers.privileges import UserAdmin, UserAdminFactory, users_of_broker_not_ours
from pytest_ipc.brokers.tls import ListenerTls

#: Makes a kind's `UserAdmin` for a broker in a container, given a way to run commands in it.
ContainerUserAdminFactory = Callable[[BrokerEndpoint, Callable[[list[str]], str]], UserAdmin]
STOP_TIMEOUT = 30.0  # RabbitMQ may take seconds to stop gracefully; SIGKILL only after this
#: Where a container finds its config directory (mounted read-write: it writes its log there too).
CONFIG_DIR = "/run/pytest-ipc-config"


class ContainerConfig(Protocol):
    """A broker's config files in a host directory that the container reads at `CONFIG_DIR`: the
    kind's per-test users rewrite them and have the broker reload them, as on the local backend."""

    def attach(self, directory: Path, reload_signal: Callable[[], None]) -> None:
        """Write the files into `directory` (before the container starts); `reload_signal` later
        sends the broker its reload signal."""

    def user_admin(self, endpoint: BrokerEndpoint) -> UserAdmin:
        """Per-test users of the started container at `endpoint`."""


@dataclass(frozen=True)
class ContainerRecipe:
    """How one broker kind runs in a container: the spec, the endpoint of a started container, and
    whether it serves the TLS listener it was made for (certificates mounted read-only). `isolation`
    replaces the kind's own when cleanup must speak TLS (NATS's one port). `config`: the files the
    spec's command reads from `CONFIG_DIR` (a fresh host directory per start, removed on stop)."""

    spec: ContainerSpec
    endpoint: Callable[[ContainerEndpoint], BrokerEndpoint]
    tls: bool = False
    isolation: IsolationFactory | None = None
    config: ContainerConfig | None = None


class ContainerBroker:
    """Backend and runtime for a broker in a container."""

    name = "container"

    def __init__(
        self,
        kind: BrokerKind,
        recipe: ContainerRecipe,
        isolation: IsolationFactory,
        *,
        users: UserAdminFactory | None = None,
        tls: ListenerTls | None = None,
        container_users: ContainerUserAdminFactory | None = None,
    ) -> None:
        self.kind = kind
        self.tls = tls
        self._users = users
        self._container_users = container_users
        self._user_admin: UserAdmin | None = None
        self.recipe = recipe
        self._container = ContainerBackend(recipe.spec)
        self._isolation = isolation
        self._config_dir: Path | None = None

    def unavailable_reason(self) -> str | None:
        if self.tls is not None and not self.recipe.tls:
            return f"the {self.kind} container recipe makes no TLS listener; make it with the kind's container_tls"
        return self._container.unavailable_reason()

    def start(self) -> ContainerBroker:
        if self.recipe.config is not None:
            self._config_dir = make_private_dir(f"{self.kind}-config")  # a reaper removes it if we die
            mounted = {str(self._config_dir): CONFIG_DIR}
            self._container = ContainerBackend(dataclasses.replace(self.recipe.spec, writable_volumes=mounted))
        try:
            if self.recipe.config is not None and self._config_dir is not None:
                self.recipe.config.attach(self._config_dir, lambda: self._container.signal("SIGHUP"))
            self._container.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self._container.stop()
        finally:
            if self._config_dir is not None:
                shutil.rmtree(self._config_dir)
                self._config_dir = None

    @property
    def endpoint(self) -> BrokerEndpoint:
        return self.recipe.endpoint(self._container.endpoint)

    @property
    def container_id(self) -> str:
        """The running container's id (for `docker` commands, and to find a kept one again)."""
        return self._container.endpoint.container_id

    def user_admin(self) -> UserAdmin:
        """Per-test users (`pytest_ipc.brokers.privileges`): administered inside the container, or in
        its mounted config files, or as on a broker we do not own."""
        if self._user_admin is None:
            if self._container_users is not None:  # administered inside the container
                self._user_admin = self._container_users(self.endpoint, self._container.exec)
            elif self.recipe.config is not None:  # the config files we mounted
                self._user_admin = self.recipe.config.user_admin(self.endpoint)
            else:
                self._user_admin = users_of_broker_not_ours(self.kind, self.name, self.endpoint, self._users)
        return self._user_admin

    def isolation(self) -> Isolation:
        return (self.recipe.isolation or self._isolation)(self.endpoint, "")

    def stop_broker(self) -> None:
        self._container.stop_container(STOP_TIMEOUT)

    def kill_broker(self) -> None:
        self._container.kill_container()

    def start_broker(self) -> None:
        self._container.start_container()
