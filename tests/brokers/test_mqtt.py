"""MQTT as a fixture: a real Mosquitto, a topic root per test, retained messages cleared after it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.mqtt import mqtt_client, mqtt_ready
from pytest_ipc.brokers.server import BrokerServer


def connected_client(handle: IsolatedBroker) -> mqtt.Client:
    client = mqtt_client(handle.endpoint)
    client.connect(handle.endpoint.host, handle.endpoint.port)
    loop_until(client, client.is_connected)
    return client


def loop_until(client: mqtt.Client, condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "MQTT condition not met in time"
        client.loop(timeout=0.01)


def retained_under(handle: IsolatedBroker, topic: str) -> list[bytes]:
    """Retained payloads delivered on subscribing to `topic` (waits for a marker published after)."""
    client = connected_client(handle)
    received: list[bytes] = []
    marker = handle.name("marker")
    done: list[bool] = []

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == marker:
            done.append(True)
        elif message.retain:
            received.append(bytes(message.payload))

    client.on_message = on_message
    client.subscribe([(topic, 1), (marker, 1)])
    client.loop(timeout=0.1)
    client.publish(marker, b"", qos=1)
    loop_until(client, lambda: done)
    client.disconnect()
    return received


def test_publish_subscribe_with_a_real_client(mqtt_broker: IsolatedBroker) -> None:
    topic = mqtt_broker.name("sensors/temperature")
    assert topic == f"{mqtt_broker.namespace}/sensors/temperature"
    client = connected_client(mqtt_broker)
    received: list[bytes] = []
    client.on_message = lambda client, userdata, message: received.append(bytes(message.payload))
    subscribed: list[bool] = []
    client.on_subscribe = lambda *args: subscribed.append(True)
    client.subscribe(topic, qos=1)
    loop_until(client, lambda: subscribed)
    client.publish(topic, b"21.5", qos=1)
    loop_until(client, lambda: received)
    client.disconnect()
    assert received == [b"21.5"]


def test_anonymous_clients_are_refused(mqtt_server: BrokerServer) -> None:
    endpoint = mqtt_server.endpoint
    if endpoint.password is None:
        pytest.skip("this MQTT broker allows anonymous clients")
    client = mqtt_client(dataclasses.replace(endpoint, username=None, password=None))
    reasons: list[ReasonCode] = []
    client.on_connect = lambda client, userdata, flags, reason, props: reasons.append(reason)
    client.connect(endpoint.host, endpoint.port)
    loop_until(client, lambda: reasons)
    assert reasons[0].is_failure


def test_retained_messages_are_cleared_per_namespace(mqtt_server: BrokerServer) -> None:
    first, second = mqtt_server.isolate().open(), mqtt_server.isolate().open()
    client = connected_client(first)
    infos = [client.publish(first.name(f"state/{n}"), f"mine-{n}".encode(), qos=1, retain=True) for n in range(3)]
    infos.append(client.publish(second.name("state/0"), b"theirs", qos=1, retain=True))
    loop_until(client, lambda: all(info.is_published() for info in infos))
    client.disconnect()
    assert sorted(retained_under(first, first.name("#"))) == [
        b"mine-0",
        b"mine-1",
        b"mine-2",
    ]
    first.close()
    assert retained_under(first, first.name("#")) == []
    assert retained_under(second, second.name("#")) == [b"theirs"]
    second.close()
    assert retained_under(second, second.name("#")) == []


def test_retained_messages_survive_a_graceful_restart(mqtt_server: BrokerServer, mqtt_broker: IsolatedBroker) -> None:
    if mqtt_server.backend != "local":
        pytest.skip("only the local backend configures Mosquitto to persist")
    client = connected_client(mqtt_broker)
    published = client.publish(mqtt_broker.name("config"), b"v1", qos=1, retain=True)
    loop_until(client, published.is_published)
    client.disconnect()
    with mqtt_server.stopped():
        assert not mqtt_ready(mqtt_server.endpoint)
    assert retained_under(mqtt_broker, mqtt_broker.name("config")) == [b"v1"]
