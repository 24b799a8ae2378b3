"""The plugins a private RabbitMQ home holds, read from this machine's installation."""

from __future__ import annotations

import pytest

from pytest_ipc.brokers.rabbitmq import RABBITMQ_SERVER, LocalRabbitMQ
from pytest_ipc.brokers.rabbitmq_home import installation, plugin_closure

pytestmark = pytest.mark.skipif(LocalRabbitMQ().missing_reason() is not None, reason="rabbitmq-server is not installed")


def test_the_closure_holds_the_enabled_plugins_and_their_dependencies_only() -> None:
    plugins = installation(RABBITMQ_SERVER) / "plugins"
    stomp = plugin_closure(plugins, ["rabbitmq_stomp"])
    assert {"rabbit", "rabbitmq_prelaunch", "rabbit_common", "ra", "rabbitmq_stomp", "amqp_client"} <= stomp.keys()
    assert not {"rabbitmq_mqtt", "rabbitmq_management", "cowboy"} & stomp.keys()
    management = plugin_closure(plugins, ["rabbitmq_management"])
    assert {"rabbitmq_management", "rabbitmq_management_agent", "rabbitmq_web_dispatch", "cowboy"} <= management.keys()
    assert all(path.parent == plugins for path in management.values())
