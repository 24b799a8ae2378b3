"""MQTT (Mosquitto): a private broker, and a topic root per test whose retained messages are cleared.

Clearing needs to know when the broker has sent every retained message under the root; MQTT has no
such marker, so the cleaner publishes one itself after subscribing: the broker sends retained
messages on subscription, before anything published later on the same connection.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import secrets
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ipc._net import LOOPBACK, accepts_connections
from pytest_ipc.backends.broker_container import CONFIG_DIR, ContainerRecipe
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.backends.container import ContainerEndpoint, ContainerSpec
from pytest_ipc.backends.local import LocalProcess
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.brokers.errors import BrokerError
from pytest_ipc.brokers.handles import NamePrefixes
from pytest_ipc.brokers.mqtt_users import MqttUsers
from pytest_ipc.brokers.tls import TLS_PORT, ListenerTls

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt
    from paho.mqtt.reasoncodes import ReasonCode

INSTALL_HINT = "apt-get install mosquitto"
CLEANUP_TIMEOUT = 10.0
RELOAD_TIMEOUT = 10.0
MARKER = "_pytest_ipc_end_of_retained"


def mosquitto_password_line(username: str, password: str) -> str:
    """A password_file line in Mosquitto 2's format (PBKDF2-SHA512, 101 rounds), made without
    mosquitto_passwd."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"{username}:$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


def write_logins(directory: Path, logins: dict[str, tuple[str, str]], anonymous_acl: str = "") -> None:
    """The password and ACL files of a Mosquitto we start: login -> (password, its ACL lines);
    `anonymous_acl`: what clients without a login may do (none, unless the config allows them)."""
    for name, content in (
        ("passwd", "".join(mosquitto_password_line(user, password) for user, (password, _) in logins.items())),
        ("acl", anonymous_acl + "".join(f"user {user}\n{acl}" for user, (_, acl) in logins.items())),
    ):
        (directory / name).write_text(content)
        (directory / name).chmod(0o600)


def reload_logins(
    rewrite: Callable[[], None], send_reload: Callable[[], None], endpoint: BrokerEndpoint, *, present: bool, where: str
) -> None:
    """Rewrite a Mosquitto's logins and signal it to reload them; returns once the endpoint's login
    logs in (`present`) or is refused (not `present`); `where` names its log for a timeout."""
    rewrite()
    send_reload()
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while login_accepted(endpoint) != present:
        if time.monotonic() > deadline:
            raise BrokerError(f"mosquitto did not reload its logins within {RELOAD_TIMEOUT} s (see {where})")
        time.sleep(0.01)


def mqtt_ready(endpoint: BrokerEndpoint) -> bool:
    """True when the broker answers an MQTT 3.1.1 CONNECT with a CONNACK (refused logins count:
    it answered). A bare TCP connect is not enough behind Docker's port proxy."""
    connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=1) as sock:
            sock.sendall(connect)
            return sock.recv(4)[:1] == b"\x20"
    except OSError:
        return False


def login_accepted(endpoint: BrokerEndpoint) -> bool:
    """True when the broker accepts an MQTT 3.1.1 CONNECT with the endpoint's login (CONNACK 0)."""
    user, password = (endpoint.username or "").encode(), (endpoint.password or "").encode()
    body = b"\x00\x04MQTT\x04\xc2\x00\x3c\x00\x00" + len(user).to_bytes(2, "big") + user
    body += len(password).to_bytes(2, "big") + password
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=2) as sock:
            sock.sendall(b"\x10" + bytes([len(body)]) + body)
            answer = sock.recv(4)
    except OSError:
        return False
    return answer[:1] == b"\x20" and answer[3:4] == b"\x00"


def mqtt_client(endpoint: BrokerEndpoint, client_id: str = "") -> mqtt.Client:
    """A paho client (MQTT 3.1.1, callback API 2) with the endpoint's credentials, not yet connected."""
    from paho.mqtt.client import Client
    from paho.mqtt.enums import CallbackAPIVersion

    from pytest_ipc.brokers.tls import endpoint_context

    client = Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    if (context := endpoint_context(endpoint)) is not None:  # a TLS endpoint not ours: its ClientTls
        client.tls_set_context(context)
    return client


def clear_retained(endpoint: BrokerEndpoint, root: str) -> list[str]:
    """Clear every retained message under ``root/#``; return their topics."""
    client = mqtt_client(endpoint, f"pytest-ipc-cleaner-{secrets.token_hex(4)}")
    retained: list[str] = []
    marker = f"{root}/{MARKER}/{secrets.token_hex(4)}"
    refused: list[str] = []
    done = threading.Event()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, props: object) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        else:
            client.subscribe(f"{root}/#", qos=1)

    def on_subscribe(client: mqtt.Client, *_: object) -> None:
        client.publish(marker, b"", qos=1)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == marker:
            done.set()
        elif message.retain:
            retained.append(message.topic)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(endpoint.host, endpoint.port)
    try:
        _loop_until(client, lambda: done.is_set() or bool(refused), f"end of retained messages under {root}")
        if refused:
            raise BrokerError(f"the MQTT broker refused the cleaner: {refused[0]}")
        pending = [client.publish(topic, b"", qos=1, retain=True) for topic in retained]
        _loop_until(client, lambda: all(info.is_published() for info in pending), "retained messages cleared")
    finally:
        client.disconnect()
    return retained


def _loop_until(client: mqtt.Client, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + CLEANUP_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise BrokerError(f"MQTT cleanup: no {what} within {CLEANUP_TIMEOUT} s")
        client.loop(timeout=0.01)


class TopicRoots(NamePrefixes):
    """Topics are ``<namespace>/<name>``; retained messages under the root are cleared after the test."""

    separator = "/"

    def close(self, namespace: str, names: Collection[str]) -> None:
        clear_retained(self.endpoint, namespace)


class LocalMosquitto(LocalBroker):
    """Password file (no anonymous access), loopback listener, persistence in its own dir (written
    on graceful stop, so `stopped()` keeps retained messages; `killed()` loses unsaved ones)."""

    kind = "mqtt"
    extra_users: dict[str, tuple[str, str]] = {}  # noqa: RUF012 (replaced, never mutated)
    """Per-test logins besides the session's: username -> (password, its ACL lines)."""
    _users: MqttUsers | None = None

    def missing_reason(self) -> str | None:
        return None if shutil.which("mosquitto") else f"mosquitto not found ({INSTALL_HINT})"

    @property
    def endpoint(self) -> BrokerEndpoint:
        return BrokerEndpoint("mqtt", LOOPBACK, self.ports["main"], self.username, self.password, self.tls_ports())

    def configure(self, base: Path) -> None:
        (base / "data").mkdir()
        self._write_config(base)

    def _write_config(self, base: Path) -> None:
        self._write_logins(base)
        run_as_root = "user root\n" if os.geteuid() == 0 else ""  # else it drops to `mosquitto`, locked out of base
        # Per-test users' evidence (`mqtt_users`): everything logged, to a file it flushes line by line
        # (stdout is buffered), only while a test has users.
        evidence = f"log_dest file {self.evidence_log}\nlog_type all\n" if self.extra_users else ""
        (base / "mosquitto.conf").write_text(
            f"listener {self.ports['main']} {LOOPBACK}\n"
            "allow_anonymous false\n"
            f"password_file {base / 'passwd'}\n"
            f"acl_file {base / 'acl'}\n"
            "persistence true\n"
            f"persistence_location {base / 'data'}/\n"
            "log_dest stdout\n" + evidence + run_as_root + self._tls_conf()
        )

    def _tls_conf(self) -> str:
        """A second listener, over TLS, with the session CA's files (TLS settings are per listener);
        mutual TLS refuses clients without a certificate."""
        if self.tls is None:
            return ""
        return (
            f"listener {self.ports['tls']} {LOOPBACK}\n"
            f"cafile {self.tls.bundle_path}\n"
            f"certfile {self.tls.server_certificate.cert_path}\n"
            f"keyfile {self.tls.server_certificate.key_path}\n"
            f"require_certificate {str(self.tls.mutual).lower()}\n"
        )

    @property
    def evidence_log(self) -> Path:
        """Everything Mosquitto logs (connections, publishes, subscriptions, denials), unbuffered."""
        return self.base / "mosquitto-all.log"

    def _write_logins(self, base: Path) -> None:
        """The password and ACL files: the session's login may do anything, per-test users what they were given."""
        write_logins(base, {self.username: (self.password, "topic readwrite #\n"), **self.extra_users})

    def reload(self, username: str, password: str, *, present: bool) -> None:
        """Write the logins again and have Mosquitto reload them (SIGHUP); returns once `username`
        logs in (`present`) or is refused (not `present`)."""
        endpoint = dataclasses.replace(self.endpoint, username=username, password=password)
        reload_logins(
            lambda: self._write_config(self.base),
            lambda: os.kill(self.process.pid or 0, signal.SIGHUP),
            endpoint,
            present=present,
            where=str(self.process.log_path),
        )

    def user_admin(self) -> MqttUsers:
        """Per-test users with topic ACLs (`pytest_ipc.brokers.privileges`)."""
        if self._users is None:
            self._users = MqttUsers(self)
        return self._users

    def server_process(self, base: Path) -> LocalProcess:
        port = self.ports["main"]
        return LocalProcess(
            "mosquitto",
            [
                shutil.which("mosquitto") or "mosquitto",
                "-c",
                str(base / "mosquitto.conf"),
            ],
            workdir=base,
            ready=lambda: accepts_connections(LOOPBACK, port) and self.tls_ready(),
        )

    def isolation(self) -> TopicRoots:
        return TopicRoots(self.endpoint)


def external_isolation(endpoint: BrokerEndpoint, path: str) -> TopicRoots:
    return TopicRoots(endpoint)


class ContainerMosquittoConfig:
    """The config, password and ACL files of a Mosquitto container, in the host directory it reads at
    `CONFIG_DIR` (the same files as a local Mosquitto's): clients without a login may do anything,
    per-test logins added by `mqtt_users` and reloaded on SIGHUP, everything logged to a file next
    to them while there are some (their evidence). Mosquitto stays root in the container (``user
    root``), or it could not read the files, which belong to this process."""

    extra_users: dict[str, tuple[str, str]]
    """Per-test logins: username -> (password, its ACL lines)."""

    def __init__(self, tls: ListenerTls | None = None) -> None:
        self.tls = tls
        self.extra_users = {}
        self._directory: Path | None = None
        self._send_reload: Callable[[], None] = lambda: None
        self._endpoint: BrokerEndpoint | None = None
        self._users: MqttUsers | None = None

    def attach(self, directory: Path, reload_signal: Callable[[], None]) -> None:
        self._directory, self._send_reload = directory, reload_signal
        self.evidence_log.touch()  # ours, not the container's: readable here whoever runs the engine
        self._write()

    @property
    def evidence_log(self) -> Path:
        """Everything Mosquitto logs while a test has users, unbuffered."""
        if self._directory is None:
            raise BrokerError("the Mosquitto container's config directory is not attached; start the container first")
        return self._directory / "mosquitto-all.log"

    def _write(self) -> None:
        directory = self.evidence_log.parent
        write_logins(directory, self.extra_users, anonymous_acl="topic readwrite #\ntopic read $SYS/#\n")
        lines = [
            *("listener 1883 0.0.0.0", "allow_anonymous true", "persistence false", "log_dest stderr", "user root"),
            *(f"password_file {CONFIG_DIR}/passwd", f"acl_file {CONFIG_DIR}/acl"),
        ]
        if self.extra_users:
            lines += [f"log_dest file {CONFIG_DIR}/{self.evidence_log.name}", "log_type all"]
        if self.tls is not None:
            _, ca, cert, key = self.tls.container_files()
            lines += ["listener 8883 0.0.0.0", f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
            lines.append(f"require_certificate {str(self.tls.mutual).lower()}")
        (directory / "mosquitto.conf").write_text("".join(f"{line}\n" for line in lines))

    def reload(self, username: str, password: str, *, present: bool) -> None:
        """Write the files again and have Mosquitto reload them (SIGHUP to the container)."""
        if self._endpoint is None:
            raise BrokerError("the Mosquitto container has no endpoint yet; ask its backend for user_admin()")
        endpoint = dataclasses.replace(self._endpoint, username=username, password=password)
        reload_logins(self._write, self._send_reload, endpoint, present=present, where="the container's output")

    def user_admin(self, endpoint: BrokerEndpoint) -> MqttUsers:
        self._endpoint = endpoint
        if self._users is None:
            self._users = MqttUsers(self)
        return self._users


def _container_spec(image: str, ports: dict[str, int], volumes: dict[str, str] | None = None) -> ContainerSpec:
    """mosquitto on the mounted config (on the PATH of the official image and ours alike)."""

    def ready(started: ContainerEndpoint) -> bool:
        return mqtt_ready(BrokerEndpoint("mqtt", started.host, started.ports["main"]))

    return ContainerSpec(
        image, ports, command=["mosquitto", "-c", f"{CONFIG_DIR}/mosquitto.conf"], volumes=volumes or {}, ready=ready
    )


def container_recipe(image: str) -> ContainerRecipe:
    """No login needed (loopback only), per-test logins in its mounted password and ACL files."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        return BrokerEndpoint("mqtt", started.host, started.ports["main"])

    config = ContainerMosquittoConfig()
    return ContainerRecipe(_container_spec(image, {"main": 1883}), endpoint, config=config)


def container_tls_recipe(image: str, tls: ListenerTls) -> ContainerRecipe:
    """`container_recipe` plus TLS on 8883 with the mounted session-CA files (the plaintext
    listener stays, for the plugin's own clients)."""

    def endpoint(started: ContainerEndpoint) -> BrokerEndpoint:
        return BrokerEndpoint("mqtt", started.host, started.ports["main"], extra_ports={TLS_PORT: started.ports[TLS_PORT]})

    volumes, *_ = tls.container_files()
    config = ContainerMosquittoConfig(tls)
    return ContainerRecipe(_container_spec(image, {"main": 1883, TLS_PORT: 8883}, volumes), endpoint, tls=True, config=config)
