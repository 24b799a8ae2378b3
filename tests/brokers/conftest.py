"""A private RabbitMQ node with the management plugin: the HTTP administration that containers and
external brokers get, on any machine with ``rabbitmq-server`` installed (no Docker needed)."""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ipc._net import LOOPBACK
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ, management_ready

MANAGEMENT_PLUGIN = "/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_management-*"


class LocalRabbitMQWithManagement(LocalRabbitMQ):
    """`LocalRabbitMQ` with the management plugin on a loopback port of its own."""

    port_names = (*LocalRabbitMQ.port_names, "management")
    plugins = (*LocalRabbitMQ.plugins, "rabbitmq_management")

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['management']}"

    @property
    def endpoint(self) -> BrokerEndpoint:
        endpoint = super().endpoint
        extra_ports = {**endpoint.extra_ports, "management": self.ports["management"]}
        return dataclasses.replace(endpoint, extra_ports=extra_ports)

    def configure(self, base: Path) -> None:
        super().configure(base)
        with (base / "rabbitmq.conf").open("a") as conf:
            conf.write(f"management.tcp.ip = {LOOPBACK}\nmanagement.tcp.port = {self.ports['management']}\n")

    def server_process(self, base: Path) -> LocalProcess:
        process = super().server_process(base)
        endpoint, amqp_ready = self.endpoint, process.ready
        process.ready = lambda: amqp_ready is not None and amqp_ready() and management_ready(endpoint)
        return process


@pytest.fixture(scope="session")
def rabbitmq_with_management() -> Iterator[LocalRabbitMQWithManagement]:
    node = LocalRabbitMQWithManagement()
    if (reason := node.missing_reason()) is not None:
        pytest.skip(reason)
    if not glob.glob(MANAGEMENT_PLUGIN):
        pytest.skip("the rabbitmq_management plugin is not installed")
    node.start()
    try:
        yield node
    finally:
        node.stop()
