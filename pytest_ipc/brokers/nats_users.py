"""Per-test NATS users with subject permissions (publish/subscribe allow and deny), added to the
config of a server we started (a local process, or a container reading its config from a mounted
directory) and reloaded (SIGHUP), and the evidence of what they did.

While a test has users, the server traces the protocol in its log: each connection's CONNECT names
its login, its PUB/HPUB and SUB lines name the subjects it used, and "Publish Violation" /
"Subscription Violation" lines name what the server refused whom.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.privileges import Grant, Operation

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_ipc.brokers.endpoint import BrokerEndpoint
    from pytest_ipc.brokers.handles import IsolatedBroker

PUBLISH, SUBSCRIBE = "publish", "subscribe"
_TRACED = re.compile(r" - cid:(?P<cid>\d+) - .*?<<- \[(?P<verb>CONNECT|PUB|HPUB|SUB) (?P<rest>.*)\]$")
_VIOLATION = re.compile(
    r" - cid:(?P<cid>\d+) - .*(?P<kind>Publish|Subscription) Violation - User \"(?P<user>[^\"]*)\", Subject \"(?P<subject>[^\"]*)\""
)


@dataclasses.dataclass
class _Entry:
    username: str
    password: str
    grants: tuple[Grant, ...]

    def config(self) -> str:
        """This user's entry of ``authorization.users`` (an empty side denies everything)."""
        sides = []
        for side in (PUBLISH, SUBSCRIBE):
            rules = {
                rule: [grant.pattern for grant in self.grants if grant.permission == f"{side}{suffix}"]
                for rule, suffix in (("allow", ""), ("deny", " deny"))
            }
            if not rules["allow"]:
                rules = {"deny": [">"]}
            sides.append(f"{side}: {json.dumps({rule: subjects for rule, subjects in rules.items() if subjects})}")
        return f"{{ user: {json.dumps(self.username)}, password: {json.dumps(self.password)}, permissions: {{ {', '.join(sides)} }} }}"


class NatsConfig(Protocol):
    """The config of a NATS server we started (`LocalNats`, `ContainerNatsConfig`)."""

    extra_users: tuple[str, ...]
    """Entries of ``authorization.users`` besides the session's login."""

    @property
    def evidence_log(self) -> Path:
        """The server's log, as this process reads it."""

    def reload(self) -> None:
        """Write the config with the current `extra_users`; returns once the server has reloaded it."""


class NatsUsers:
    """`UserAdmin` of a NATS server we started."""

    native = frozenset({"publish_deny", "subscribe_deny"})

    def __init__(self, server: NatsConfig) -> None:
        self.server = server
        self._entries: dict[str, _Entry] = {}
        self._log_offsets: dict[str, int] = {}

    def grants(
        self, handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
    ) -> tuple[Grant, ...]:
        """publish: subjects to publish to; consume: subjects to subscribe to (qualified by the
        handle; NATS wildcards ``*`` and ``>`` work); publish_deny/subscribe_deny: exceptions."""
        grants = [Grant(PUBLISH, handle.name(name), "nats") for name in publish]
        grants += [Grant(SUBSCRIBE, handle.name(name), "nats") for name in consume]
        for keyword, side in (("publish_deny", PUBLISH), ("subscribe_deny", SUBSCRIBE)):
            subjects = native.get(keyword, ())
            if isinstance(subjects, str) or not isinstance(subjects, Sequence):
                raise IpcUsageError(f"{keyword}= is a list of subjects, got {subjects!r}")
            grants += [Grant(f"{side} deny", handle.name(str(subject)), "rule") for subject in subjects]
        return tuple(grants)

    def create(self, handle: IsolatedBroker, username: str, password: str, grants: tuple[Grant, ...]) -> BrokerEndpoint:
        if handle.namespace not in self._log_offsets:
            log = self.server.evidence_log
            self._log_offsets[handle.namespace] = log.stat().st_size if log.exists() else 0
        self._entries[username] = _Entry(username, password, grants)
        self._reload()
        return dataclasses.replace(handle.endpoint, username=username, password=password)

    def observe(self, handle: IsolatedBroker, username: str) -> tuple[list[Operation], list[Operation]]:
        with self.server.evidence_log.open("rb") as log:
            log.seek(self._log_offsets[handle.namespace])
            lines = log.read().decode(errors="replace").splitlines()
        ours: set[str] = set()
        used: list[Operation] = []
        refused: list[Operation] = []
        for line in lines:
            if (violation := _VIOLATION.search(line)) is not None:
                if violation["user"] == username:
                    side = PUBLISH if violation["kind"] == "Publish" else SUBSCRIBE
                    refused.append(Operation(side, violation["subject"], "subject", side.upper()))
                continue
            if (traced := _TRACED.search(line)) is None:
                continue
            verb, rest, cid = traced["verb"], traced["rest"], traced["cid"]
            if verb == "CONNECT":
                if json.loads(rest).get("user") == username:
                    ours.add(cid)
            elif cid in ours:
                side = PUBLISH if verb in ("PUB", "HPUB") else SUBSCRIBE
                used.append(Operation(side, rest.split()[0], "subject", verb))
        denied = {(operation.permission, operation.resource) for operation in refused}
        return [operation for operation in used if (operation.permission, operation.resource) not in denied], refused

    def remove(self, handle: IsolatedBroker, usernames: Sequence[str]) -> None:
        for username in usernames:
            self._entries.pop(username, None)
        self._log_offsets.pop(handle.namespace, None)
        self._reload()

    def _reload(self) -> None:
        self.server.extra_users = tuple(entry.config() for entry in self._entries.values())
        self.server.reload()
