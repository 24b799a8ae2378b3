"""The table of broker kinds: for each, its local broker, default image and container recipe, and
how tests are isolated on a broker we do not own; and the backends to choose from, in auto order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pytest_ipc.brokers import mqtt, nats, rabbitmq, redis
from pytest_ipc.brokers.container import ContainerBroker, ContainerRecipe
from pytest_ipc.brokers.endpoint import BrokerKind
from pytest_ipc.brokers.external import ExternalBroker, IsolationFactory
from pytest_ipc.brokers.local import LocalBroker

BrokerBackend = ExternalBroker | ContainerBroker | LocalBroker


@dataclass(frozen=True)
class BrokerKindSpec:
    kind: BrokerKind
    local: Callable[[], LocalBroker]
    default_image: str
    container: Callable[[str], ContainerRecipe]
    external_isolation: IsolationFactory


KINDS: dict[BrokerKind, BrokerKindSpec] = {
    spec.kind: spec
    for spec in (
        BrokerKindSpec(
            "rabbitmq",
            rabbitmq.LocalRabbitMQ,
            rabbitmq.DEFAULT_IMAGE,
            rabbitmq.container_recipe,
            rabbitmq.external_isolation,
        ),
        BrokerKindSpec(
            "redis",
            redis.LocalRedis,
            redis.DEFAULT_IMAGE,
            redis.container_recipe,
            redis.external_isolation,
        ),
        BrokerKindSpec(
            "nats",
            nats.LocalNats,
            nats.DEFAULT_IMAGE,
            nats.container_recipe,
            nats.external_isolation,
        ),
        BrokerKindSpec(
            "mqtt",
            mqtt.LocalMosquitto,
            mqtt.DEFAULT_IMAGE,
            mqtt.container_recipe,
            mqtt.external_isolation,
        ),
    )
}


def broker_backends(kind: BrokerKind, url: str | None, image: str | None, url_source: str) -> list[BrokerBackend]:
    """External, container, local: the automatic order (a given URL wins, then Docker, then PATH)."""
    spec = KINDS[kind]
    return [
        ExternalBroker(kind, url, spec.external_isolation, url_source),
        ContainerBroker(kind, spec.container(image or spec.default_image), spec.external_isolation),
        spec.local(),
    ]
