"""Message brokers as session fixtures with per-test isolation: RabbitMQ (AMQP, STOMP), Redis, NATS,
MQTT. One module per broker kind; `kinds` tables them, `server` and `handles` are what tests hold."""

from pytest_ipc.brokers.endpoint import BROKER_KINDS, BrokerEndpoint, BrokerHandle, BrokerKind
from pytest_ipc.brokers.errors import BrokerControlError, BrokerError
from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import AsyncBrokerControls, BrokerServer

__all__ = [
    "BROKER_KINDS",
    "AsyncBrokerControls",
    "BrokerControlError",
    "BrokerEndpoint",
    "BrokerError",
    "BrokerHandle",
    "BrokerKind",
    "BrokerServer",
    "IsolatedBroker",
]
