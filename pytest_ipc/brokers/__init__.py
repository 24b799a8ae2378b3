"""Message brokers as session fixtures with per-test isolation: RabbitMQ (AMQP, STOMP), Redis, NATS,
MQTT. One module per broker kind; `kinds` tables them, `server` and `handles` are what tests hold."""

from pytest_ipc.brokers.endpoint import BROKER_KINDS, BrokerEndpoint, BrokerHandle, BrokerKind
from pytest_ipc.brokers.external import BrokerControlError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import BrokerServer

__all__ = [
    "BROKER_KINDS",
    "BrokerControlError",
    "BrokerEndpoint",
    "BrokerHandle",
    "BrokerKind",
    "BrokerServer",
    "IsolatedBroker",
]
