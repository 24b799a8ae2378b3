"""Least privilege on brokers: per-test broker users with chosen permissions, what each one used and
was refused, and the verdict `assert_least_privilege` (this module owns the concept; each broker
kind's `<kind>_users` module maps it onto the broker's own permissions and evidence).

One concept across brokers: `handle.user(name, publish=[...], consume=[...])` grants a login the
right to publish to and consume from the named queues/exchanges, keys/channels, subjects or topics
(names as the test writes them; the handle qualifies them with its namespace), or takes the broker's
own spelling (``read=``/``write=``/``configure=`` regexes on RabbitMQ, ``keys=``/``channels=``/
``commands=`` ACL rules on Redis, ``publish_deny=``/``subscribe_deny=`` on NATS). The user is removed
after the test. `BrokerUser.report()` says what the broker saw the login do, as `Operation`s.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pytest_ipc.brokers.errors import LeastPrivilegeError

if TYPE_CHECKING:
    from pytest_ipc.brokers.endpoint import BrokerEndpoint
    from pytest_ipc.brokers.handles import IsolatedBroker

Syntax = Literal["regex", "glob", "nats", "mqtt", "rule"]
"""How a grant's pattern matches names: RabbitMQ regexes, Redis globs, NATS and MQTT wildcards;
``rule`` is listed but not judged by name (Redis command rules like ``+@read``, NATS denials)."""

SETTLE_TIMEOUT = 2.0  # seconds for a broker's evidence (log, trace) to stop growing
SETTLE_INTERVAL = 0.05


@dataclass(frozen=True)
class Operation:
    """One thing a login did or tried: the permission it takes, on what, by which command."""

    permission: str
    resource: str
    kind: str = ""
    command: str = ""

    def __str__(self) -> str:
        what = f"{self.kind} {self.resource!r}" if self.kind else repr(self.resource)
        return f"{self.permission} on {what}" + (f" ({self.command})" if self.command else "")


@dataclass(frozen=True)
class Grant:
    """One permission given to a login, in the broker's own spelling."""

    permission: str
    pattern: str
    syntax: Syntax
    group: str = ""
    """The name of `user(publish=, consume=)` this grant is one of several for (Redis grants a
    name as a key and a channel): the group is used when any of its grants is."""

    def covers(self, operation: Operation) -> bool:
        """True when this grant allows the operation (same permission, the name matches)."""
        return operation.permission == self.permission and pattern_matches(self.syntax, self.pattern, operation.resource)

    @property
    def judged(self) -> bool:
        """False for grants whose use cannot be told by name (command rules) or that grant nothing
        (RabbitMQ's empty regex)."""
        return self.syntax != "rule" and self.pattern != ""

    def __str__(self) -> str:
        return f"{self.permission} {self.pattern!r}"


def pattern_matches(syntax: Syntax, pattern: str, name: str) -> bool:
    """Whether `name` falls under `pattern` as the broker reads it."""
    if syntax == "regex":
        return pattern != "" and re.search(pattern, name) is not None
    if syntax == "glob":
        return fnmatch.fnmatchcase(name, pattern)
    if syntax in ("nats", "mqtt"):
        many, one, sep = (">", "*", ".") if syntax == "nats" else ("#", "+", "/")
        wanted, parts = pattern.split(sep), name.split(sep)
        for index, token in enumerate(wanted):
            if token == many:
                return len(parts) > index or syntax == "mqtt"
            if index >= len(parts) or (token != one and token != parts[index]) or parts[index] == many:
                return False
        return len(parts) == len(wanted)
    return False


def narrowest(syntax: Syntax, names: Sequence[str]) -> str:
    """The tightest pattern of `syntax` that covers exactly `names` (a suggestion for a message)."""
    if syntax == "regex":
        return "^(" + "|".join(re.escape(name) for name in names) + ")$" if len(names) > 1 else f"^{re.escape(names[0])}$"
    return ", ".join(names)


@dataclass
class PrivilegeReport:
    """What a login was granted, what the broker saw it use, and what the broker refused it."""

    user: BrokerUser
    granted: tuple[Grant, ...]
    used: list[Operation]
    refused: list[Operation]

    @property
    def unused(self) -> list[Grant]:
        """Grants (judged by name) that cover none of the operations the login used."""
        used_groups = {
            grant.group for grant in self.granted if grant.group and any(map(grant.covers, self.used))
        }
        return [
            grant
            for grant in self.granted
            if grant.judged and grant.group not in used_groups and not any(map(grant.covers, self.used))
        ]

    def wider_than_used(self) -> list[tuple[Grant, list[Operation]]]:
        """Used grants whose pattern is wider than the names used (``.*`` for one queue)."""
        wider = []
        for grant in self.granted:
            covered = [operation for operation in self.used if grant.covers(operation)]
            names = sorted({operation.resource for operation in covered})
            if covered and grant.judged and grant.pattern not in (narrowest(grant.syntax, names), *names):
                wider.append((grant, covered))
        return wider


@runtime_checkable
class UserAdmin(Protocol):
    """How one broker kind creates, observes and removes per-test logins (a backend's `user_admin()`)."""

    native: frozenset[str]
    """The keywords of the broker's own spelling that `user()` accepts."""

    def grants(
        self, handle: IsolatedBroker, publish: Sequence[str], consume: Sequence[str], native: dict[str, object]
    ) -> tuple[Grant, ...]:
        """The broker's permissions for publishing to / consuming from the handle's names."""

    def create(
        self, handle: IsolatedBroker, username: str, password: str, grants: tuple[Grant, ...]
    ) -> BrokerEndpoint:
        """Create the login with exactly these grants; it works once this returns. Returns where
        the login connects (the handle's endpoint, or a recorder in front of it)."""

    def observe(self, handle: IsolatedBroker, username: str) -> tuple[list[Operation], list[Operation]]:
        """What the broker saw the login use, and what it refused it, so far."""

    def remove(self, handle: IsolatedBroker, usernames: Sequence[str]) -> None:
        """Delete the logins (and what observing them needed); their connections end."""


#: Why a kind has no per-test users on a broker pytest-ipc did not start (Redis and RabbitMQ have them there).
NOT_ADMINISTERED = {
    "nats": "NATS permissions live in the server's config file, which pytest-ipc can rewrite and reload (SIGHUP) only on "
    "a server it started itself (the local and container backends), and what a login did shows only in that server's trace log",
    "mqtt": "Mosquitto's logins and ACLs live in its password and ACL files, which pytest-ipc can rewrite and reload (SIGHUP) "
    "only on a Mosquitto it started itself (the local and container backends), and what a login did shows only in that "
    "broker's log",
}
#: The backends on which pytest-ipc makes a kind's per-test users, where not all of them.
ADMINISTERED_ON = {"nats": "local or container", "mqtt": "local or container"}

UserAdminFactory = Callable[["BrokerEndpoint"], UserAdmin]
"""Makes a kind's `UserAdmin` for a broker we do not own, from its admin endpoint."""


def users_of_broker_not_ours(
    kind: str, backend: str, endpoint: BrokerEndpoint, factory: UserAdminFactory | None
) -> UserAdmin:
    """The `UserAdmin` of a container or external broker, or why there is none."""
    from pytest_ipc._errors import IpcUsageError

    if factory is None:
        why = NOT_ADMINISTERED.get(kind, "its users are not administered by pytest-ipc there")
        raise IpcUsageError(
            f"per-test {kind} users need a {kind} broker pytest-ipc administers, not one on the {backend} backend: {why}. "
            f"Use --ipc-{kind}-backend {ADMINISTERED_ON.get(kind, 'local')}"
        )
    return factory(endpoint)


@runtime_checkable
class WithUsers(Protocol):
    """A broker runtime that can make per-test logins."""

    def user_admin(self) -> UserAdmin: ...


@dataclass
class BrokerUser:
    """A login of one test with chosen permissions; connect the service under test with `url` or
    `endpoint`; removed after the test."""

    name: str
    username: str
    password: str
    granted: tuple[Grant, ...]
    endpoint: BrokerEndpoint
    """Where the service connects, with this login."""
    handle: IsolatedBroker = field(repr=False)
    admin: UserAdmin = field(repr=False)

    @property
    def url(self) -> str:
        """A client URL with this login that lands in the test's namespace."""
        return self.handle.url_for(self.endpoint)

    def report(self) -> PrivilegeReport:
        """What the broker saw this login use and refused it, once its evidence stopped growing."""
        observed = settled(lambda: self.admin.observe(self.handle, self.username))
        used, refused = observed
        return PrivilegeReport(self, self.granted, _unique(used), _unique(refused))

    def __str__(self) -> str:
        return f"{self.handle.kind} user {self.name!r} (login {self.username!r})"


def settled(observe: Callable[[], tuple[list[Operation], list[Operation]]]) -> tuple[list[Operation], list[Operation]]:
    """Observe until two looks agree: brokers write their logs and traces a moment after the fact."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last = observe()
    while time.monotonic() < deadline:
        time.sleep(SETTLE_INTERVAL)
        current = observe()
        if current == last:
            return current
        last = current
    return last


def _unique(operations: Iterable[Operation]) -> list[Operation]:
    return list(dict.fromkeys(operations))


def assert_least_privilege(*users: BrokerUser, allow_unused: Iterable[str] = ()) -> list[PrivilegeReport]:
    """Fail unless each user was refused nothing (its service needed no more than it was given) and
    used every grant it holds, no wider than the names it used (its service holds no more than it
    needs). `allow_unused` lists patterns that may stay unused or wide. Returns the reports."""
    tolerated = set(allow_unused)
    reports = [user.report() for user in users]
    problems = []
    for report in reports:
        problems.extend(_problems(report, tolerated))
    if problems:
        raise LeastPrivilegeError("\n".join(problems))
    return reports


def _problems(report: PrivilegeReport, tolerated: set[str]) -> list[str]:
    user, problems = report.user, []
    summary = (
        f"  granted: {', '.join(map(str, report.granted)) or 'nothing'}\n"
        f"  used: {', '.join(map(str, report.used)) or 'nothing'}"
    )
    if report.refused:
        lines = "\n".join(f"  - {operation}: {_missing(report, operation)}" for operation in report.refused)
        problems.append(
            f"{user} was refused {len(report.refused)} operation(s) its service tried; expected none "
            f"(a service that needs more than it was given fails in production):\n{lines}\n{summary}\n"
            "  grant what it needs, or change the service so it does not need it"
        )
    unused = [grant for grant in report.unused if grant.pattern not in tolerated]
    wider = [(grant, ops) for grant, ops in report.wider_than_used() if grant.pattern not in tolerated]
    if unused or wider:
        advice = [f"  - {grant}: never used; remove it" for grant in unused]
        for grant, operations in wider:
            names = sorted({operation.resource for operation in operations})
            advice.append(
                f"  - {grant}: used only for {', '.join(map(repr, names))}; "
                f"narrow it to {narrowest(grant.syntax, names)!r}"
            )
        problems.append(
            f"{user} holds grants it never needed; expected every grant used and no wider than used:\n"
            + "\n".join(advice)
            + f"\n{summary}\n  refused: {', '.join(map(str, report.refused)) or 'nothing'}"
        )
    return problems


def _missing(report: PrivilegeReport, operation: Operation) -> str:
    same = [str(grant) for grant in report.granted if grant.permission == operation.permission]
    if same:
        return f"granted {' and '.join(same)}, which does not cover {operation.resource!r}"
    return f"no {operation.permission} permission was granted"
