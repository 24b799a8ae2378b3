"""MQTT 5 adapter (paho-mqtt 2) for Mosquitto: QoS 1, `$share/` shared subscriptions for
point-to-point, plain topics for pub/sub, and MQTT 5 properties for ids (CorrelationData,
ResponseTopic, user properties).

A subscriber keeps a persistent session (fixed client id, session expiry) while stopped, so the
broker queues QoS 1 messages for it; `close()` ends the session. MQTT has no negative
acknowledgement and no dead-letter queue. Publishing waits for the PUBACK (QoS 1's confirm).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.messaging._dispatch import Dispatcher
from pytest_ipc.messaging.channel import (
    Bus,
    Destination,
    Feature,
    Subscription,
    unsupported_settle,
)
from pytest_ipc.messaging.message import Delivery, Handler, Message, new_id

GROUP = "workers"
QOS = 1
SESSION_EXPIRY = 300
MESSAGE_ID = "message-id"
TIMEOUT = 10.0


def connected_client(
    endpoint: BrokerEndpoint,
    client_id: str,
    *,
    clean_start: bool,
    session_expiry: int,
    on_message: Callable[[mqtt.Client, object, mqtt.MQTTMessage], None] | None = None,
) -> mqtt.Client:
    """Connect, start the network thread and wait for a successful CONNACK. `on_message` is set
    first: a resumed session's queued messages arrive right after the CONNACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    connected = threading.Event()
    outcome: list[ReasonCode] = []

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, properties: object) -> None:
        outcome.append(reason)
        connected.set()

    client.on_connect = on_connect
    client.connect(endpoint.host, endpoint.port, clean_start=clean_start, properties=connect_properties(session_expiry))
    client.loop_start()
    if not connected.wait(TIMEOUT) or outcome[0].is_failure:
        client.loop_stop()
        client.disconnect()
        raise BrokerError(f"MQTT broker {endpoint.host}:{endpoint.port} refused {client_id}: {outcome or 'no CONNACK'}")
    return client


FEATURES: frozenset[Feature] = frozenset({"buffering", "topic_buffering", "confirms"})


def publish_properties(message: Message) -> Properties:
    """A message's ids and headers as MQTT 5 PUBLISH properties."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.UserProperty = [*message.headers.items(), (MESSAGE_ID, message.message_id)]
    if message.correlation_id is not None:
        properties.CorrelationData = message.correlation_id.encode()
    if message.reply_to is not None:
        properties.ResponseTopic = message.reply_to
    return properties


def message_from_mqtt(payload: bytes | bytearray, properties: Properties | None) -> Message:
    headers = dict(getattr(properties, "UserProperty", []))
    correlation = getattr(properties, "CorrelationData", None)
    return Message(
        body=bytes(payload),
        message_id=headers.pop(MESSAGE_ID, ""),
        correlation_id=correlation.decode() if correlation is not None else None,
        reply_to=getattr(properties, "ResponseTopic", None),
        headers=headers,
    )


def connect_properties(session_expiry: int) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = session_expiry
    return properties


class MqttBus(Bus):
    transport = "mqtt"
    features = FEATURES

    def __init__(self, endpoint: BrokerEndpoint, qualify: Callable[[str], str]) -> None:
        super().__init__(qualify)
        self.endpoint = endpoint
        self.client = connected_client(endpoint, f"pub-{new_id()[:12]}", clean_start=True, session_expiry=0)

    def publish(self, destination: Destination, message: Message) -> None:
        info = self.client.publish(destination.address, message.body, qos=QOS, properties=publish_properties(message))
        info.wait_for_publish(TIMEOUT)  # the PUBACK: the broker has it

    def _subscription(self, destination: Destination, handler: Handler) -> Subscription:
        return MqttSubscription(self, destination, handler)

    def _disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class MqttSubscription(Subscription):
    bus: MqttBus

    def __init__(self, bus: MqttBus, destination: Destination, handler: Handler) -> None:
        super().__init__(bus, destination, handler)
        self.client_id = f"sub-{new_id()[:12]}"
        self.filter = f"$share/{GROUP}/{destination.address}" if destination.pattern == "queue" else destination.address
        self._client: mqtt.Client | None = None
        self._dispatcher: Dispatcher[mqtt.MQTTMessage] | None = None
        self._resumed = False

    def _open(self) -> None:
        dispatcher: Dispatcher[mqtt.MQTTMessage] = Dispatcher(f"mqtt-consumer {self.destination.address}", self._handle)
        client = connected_client(self.bus.endpoint, self.client_id, clean_start=not self._resumed,
                                  session_expiry=SESSION_EXPIRY, on_message=lambda client, userdata, msg: dispatcher.put(msg))
        subscribed = threading.Event()
        client.on_subscribe = lambda client, userdata, mid, reasons, properties: subscribed.set()
        client.subscribe(self.filter, qos=QOS)
        if not subscribed.wait(TIMEOUT):
            raise BrokerError(f"no SUBACK for {self.filter} within {TIMEOUT} s")
        self._client, self._dispatcher, self._resumed = client, dispatcher, True

    def _handle(self, msg: mqtt.MQTTMessage) -> None:
        message = message_from_mqtt(msg.payload, msg.properties)
        self.deliver(Delivery(message, bool(msg.dup), unsupported_settle("mqtt")))

    def _disconnect(self, session_expiry: int | None) -> None:
        if self._client is not None:
            properties = None
            if session_expiry is not None:
                properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
                properties.SessionExpiryInterval = session_expiry
            self._client.disconnect(properties=properties)
            self._client.loop_stop()
        if self._dispatcher is not None:
            self._dispatcher.stop()
        self._client = self._dispatcher = None

    def _close(self) -> None:
        self._disconnect(session_expiry=None)  # keep the session: the broker queues for us meanwhile

    def close(self) -> None:
        if self.running:
            self.running = False
            self._disconnect(session_expiry=0)
        elif self._resumed:  # stopped earlier with its session kept: reconnect once to end it
            client = connected_client(self.bus.endpoint, self.client_id, clean_start=True, session_expiry=0)
            client.disconnect()
            client.loop_stop()
        self._resumed = False
