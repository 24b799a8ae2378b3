"""Per-test MQTT users with topic read/write ACLs, added to the password and ACL files of a Mosquitto
we started (a local process, or a container reading them from a mounted directory) and reloaded
(SIGHUP), and the evidence of what they did.

Mosquitto logs everything (``log_type all``): "New client connected ... as <id> (..., u'<login>')"
ties a client id to its login, "Received PUBLISH from <id> (..., '<topic>', ...)" is a write,
"<id> <qos> <filter>" a subscription, and "Denied PUBLISH from <id>" a refused write. Mosquitto 2.0
acknowledges a subscription that its ACL does not allow and then silently delivers nothing on it,
without a log line: a logged filter that no read grant covers is that refusal, judged by the ACL we
wrote (the same matching as Mosquitto's).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from pytest_ipc.brokers.privileges import Grant, Operation

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_ipc.brokers.endpoint import BrokerEndpoint
    from pytest_ipc.brokers.handles import IsolatedBroker

READ, WRITE = "read", "write"
_CONNECTED = re.compile(r"New client connected from \S+ as (?P<id>\S+) \(.*u'(?P<user>[^']*)'\)")
_PUBLISH = re.compile(r"(?P<verdict>Received|Denied) PUBLISH from (?P<id>\S+) \(d\d, q\d, r\d, m\d+, '(?P<topic>[^']*)'")
_SUBSCRIBED = re.compile(r"^\d+: (?P<id>\S+) (?P<qos>\d+) (?P<filter>\S+)$")


class MosquittoLogins(Protocol):
    """The logins of a Mosquitto we started (`LocalMosquitto`, `ContainerMosquittoConfig`)."""

    extra_users: dict[str, tuple[str, str]]
    """Per-test logins besides the session's: username -> (password, its ACL lines)."""

    @property
    def evidence_log(self) -> Path:
        """Everything Mosquitto logs while there are per-test logins, as this process reads it."""

    def reload(self, username: str, password: str, *, present: bool) -> None:
        """Write the files with the current `extra_users`; returns once `username` logs in
        (`present`) or is refused (not `present`)."""


class MqttUsers:
    """`UserAdmin` of a Mosquitto we started."""

    native: frozenset[str] = frozenset()

    def __init__(self, server: MosquittoLogins) -> None:
        self.server = server
        self._log_offsets: dict[str, int] = {}
        self._grants: dict[str, tuple[Grant, ...]] = {}

    def grants(
        self, handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
    ) -> tuple[Grant, ...]:
        """publish: topics to write; consume: topic filters to read (subscribe to); qualified by the
        handle, MQTT wildcards ``+`` and ``#`` work."""
        return (
            *(Grant(WRITE, handle.name(name), "mqtt") for name in publish),
            *(Grant(READ, handle.name(name), "mqtt") for name in consume),
        )

    def create(self, handle: IsolatedBroker, username: str, password: str, grants: tuple[Grant, ...]) -> BrokerEndpoint:
        if handle.namespace not in self._log_offsets:
            log = self.server.evidence_log
            self._log_offsets[handle.namespace] = log.stat().st_size if log.exists() else 0
        self._grants[username] = grants
        acl = "".join(f"topic {grant.permission} {grant.pattern}\n" for grant in grants)
        self.server.extra_users = {**self.server.extra_users, username: (password, acl)}
        self.server.reload(username, password, present=True)
        return dataclasses.replace(handle.endpoint, username=username, password=password)

    def observe(self, handle: IsolatedBroker, username: str) -> tuple[list[Operation], list[Operation]]:
        grants = self._grants[username]
        with self.server.evidence_log.open("rb") as log:
            log.seek(self._log_offsets[handle.namespace])
            lines = log.read().decode(errors="replace").splitlines()
        ours: set[str] = set()
        used: list[Operation] = []
        refused: list[Operation] = []
        for line in lines:
            if (connected := _CONNECTED.search(line)) is not None:
                (ours.add if connected["user"] == username else ours.discard)(connected["id"])
            elif (published := _PUBLISH.search(line)) is not None and published["id"] in ours:
                operation = Operation(WRITE, published["topic"], "topic", "PUBLISH")
                (used if published["verdict"] == "Received" else refused).append(operation)
            elif (subscribed := _SUBSCRIBED.search(line)) is not None and subscribed["id"] in ours:
                operation = Operation(READ, subscribed["filter"], "topic filter", "SUBSCRIBE")
                allowed = any(grant.covers(operation) for grant in grants)
                (used if allowed and int(subscribed["qos"]) < 128 else refused).append(operation)
        return used, refused

    def remove(self, handle: IsolatedBroker, usernames: Sequence[str]) -> None:
        self._log_offsets.pop(handle.namespace, None)
        removed = {name: entry for name, entry in self.server.extra_users.items() if name in usernames}
        self.server.extra_users = {
            name: entry for name, entry in self.server.extra_users.items() if name not in usernames
        }
        for username in usernames:
            self._grants.pop(username, None)
        if removed:
            probe, (password, _) = next(iter(removed.items()))
            self.server.reload(probe, password, present=False)
