"""The images of images/build as ContainerSpecs, each with a probe that speaks the real protocol.

A published port accepts TCP connections as soon as docker-proxy listens, long before the broker
inside does, so each probe completes a protocol handshake. Also lookups of what a process left.
"""

from __future__ import annotations

from typing import Any

import docker.errors
import httpx
import paho.mqtt.client as mqtt
import pika
import redis
from paho.mqtt.enums import CallbackAPIVersion

from pytest_ipc._owner import OWNER_LABEL
from pytest_ipc.backends.container import ContainerEndpoint, ContainerSpec


def amqp_handshake(endpoint: ContainerEndpoint) -> bool:
    parameters = pika.ConnectionParameters(
        endpoint.host, endpoint.ports["amqp"], connection_attempts=1, socket_timeout=2
    )
    pika.BlockingConnection(parameters).close()
    return True


def redis_ping(endpoint: ContainerEndpoint) -> bool:
    client = redis.Redis(endpoint.host, endpoint.ports["redis"], socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def nats_healthz(endpoint: ContainerEndpoint) -> bool:
    response = httpx.get(f"http://{endpoint.host}:{endpoint.ports['monitor']}/healthz", timeout=1)
    return response.status_code == 200


def mqtt_connack(endpoint: ContainerEndpoint) -> bool:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    try:
        client.connect(endpoint.host, endpoint.ports["mqtt"], keepalive=5)
        return client.loop(timeout=1) == mqtt.MQTT_ERR_SUCCESS and client.is_connected()
    finally:
        client.disconnect()


RABBITMQ = ContainerSpec("local/rabbitmq:debian", {"amqp": 5672, "stomp": 61613}, ready=amqp_handshake)
REDIS = ContainerSpec("local/redis:debian", {"redis": 6379}, ready=redis_ping)
NATS = ContainerSpec("local/nats:debian", {"nats": 4222, "monitor": 8222}, ready=nats_healthz)
MOSQUITTO = ContainerSpec("local/mosquitto:debian", {"mqtt": 1883}, ready=mqtt_connack)


def container_ids_of(client: Any, token: str) -> set[str]:
    """Ids of the containers (running or not) that carry owner `token`."""
    return {container["Id"] for container in client.api.containers(all=True, filters={"label": f"{OWNER_LABEL}={token}"})}


def container_exists(client: Any, container_id: str) -> bool:
    try:
        client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return False
    return True
