"""The table of broker kinds: for each, its local broker, default image and container recipe, and
how tests are isolated on a broker we do not own (`pytest_ipc.backends.services` makes backends of them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pytest_ipc.backends.broker_container import ContainerRecipe, ContainerUserAdminFactory
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.brokers import mqtt, nats, rabbitmq, redis
from pytest_ipc.brokers.endpoint import BrokerKind
from pytest_ipc.brokers.handles import IsolationFactory
from pytest_ipc.brokers.privileges import UserAdminFactory
from pytest_ipc.brokers.tls import ListenerTls


@dataclass(frozen=True)
class BrokerKindSpec:
    """One kind's parts, for its backends."""

    kind: BrokerKind
    local: Callable[[ListenerTls | None], LocalBroker]
    container: Callable[[str], ContainerRecipe]
    external_isolation: IsolationFactory
    container_tls: Callable[[str, ListenerTls], ContainerRecipe]
    """The container recipe with a TLS listener (``--ipc-<kind>-tls``)."""
    external_users: UserAdminFactory | None = None
    """Per-test users on a broker we do not own (container, external), where the broker's own
    administration allows it; None: only brokers pytest-ipc started make them (the local backend, and
    the container backend where the recipe mounts the kind's config, `ContainerRecipe.config`)."""
    container_users: ContainerUserAdminFactory | None = None
    """Per-test users on a broker in a container, administered inside it (before `external_users`)."""


KINDS: dict[BrokerKind, BrokerKindSpec] = {
    spec.kind: spec
    for spec in (
        BrokerKindSpec(
            "rabbitmq",
            rabbitmq.LocalRabbitMQ,
            rabbitmq.container_recipe,
            rabbitmq.external_isolation,
            rabbitmq.container_tls_recipe,
            rabbitmq.external_users,
            rabbitmq.container_users,
        ),
        BrokerKindSpec(
            "redis",
            redis.LocalRedis,
            redis.container_recipe,
            redis.external_isolation,
            redis.container_tls_recipe,
            redis.external_users,
        ),
        BrokerKindSpec(
            "nats",
            nats.LocalNats,
            nats.container_recipe,
            nats.external_isolation,
            nats.container_tls_recipe,
        ),
        BrokerKindSpec(
            "mqtt",
            mqtt.LocalMosquitto,
            mqtt.container_recipe,
            mqtt.external_isolation,
            mqtt.container_tls_recipe,
        ),
    )
}

