"""Message brokers as session fixtures with per-test isolation: RabbitMQ (AMQP, STOMP), Redis, NATS,
MQTT, each optionally over TLS (`tls`). One module per broker kind; `kinds` tables them, `server` and
`handles` are what tests hold; `privileges` gives tests users with chosen permissions and
`assert_least_privilege`.
Names are imported on first use, like those of `pytest_ipc.contracts`: the plugin reads the broker
kinds in every session, and most sessions start no broker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ below
    from pytest_ipc.brokers.endpoint import BROKER_KINDS, BrokerEndpoint, BrokerHandle, BrokerKind
    from pytest_ipc.brokers.errors import BrokerControlError, BrokerError, LeastPrivilegeError
    from pytest_ipc.brokers.handles import IsolatedBroker
    from pytest_ipc.brokers.privileges import BrokerUser, Grant, Operation, PrivilegeReport, assert_least_privilege
    from pytest_ipc.brokers.server import AsyncBrokerControls, BrokerServer
    from pytest_ipc.brokers.tls import BrokerTls

_EXPORTS = {
    "BROKER_KINDS": "endpoint",
    "AsyncBrokerControls": "server",
    "BrokerControlError": "errors",
    "BrokerEndpoint": "endpoint",
    "BrokerError": "errors",
    "BrokerHandle": "endpoint",
    "BrokerKind": "endpoint",
    "BrokerServer": "server",
    "BrokerUser": "privileges",
    "Grant": "privileges",
    "BrokerTls": "tls",
    "IsolatedBroker": "handles",
    "LeastPrivilegeError": "errors",
    "Operation": "privileges",
    "PrivilegeReport": "privileges",
    "assert_least_privilege": "privileges",
}

__all__ = [
    "BROKER_KINDS",
    "AsyncBrokerControls",
    "BrokerControlError",
    "BrokerEndpoint",
    "BrokerError",
    "BrokerHandle",
    "BrokerKind",
    "BrokerServer",
    "BrokerTls",
    "BrokerUser",
    "Grant",
    "IsolatedBroker",
    "LeastPrivilegeError",
    "Operation",
    "PrivilegeReport",
    "assert_least_privilege",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"pytest_ipc.brokers.{_EXPORTS[name]}"), name)
