"""One test's isolated view of a session broker, and the per-kind isolation strategies behind it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Protocol

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind
from pytest_ipc.brokers.tls import TLS_PORT, BrokerTls, ClientTls

if TYPE_CHECKING:
    from pytest_ipc.brokers.privileges import BrokerUser, UserAdmin
    from pytest_ipc.brokers.server import BrokerServer
    from pytest_ipc.client.proxy import Proxy

ProxyFactory = Callable[[str], "Proxy"]
"""Creates a fault proxy in front of an upstream "host:port"; its owner deletes it after the test."""


class Isolation(Protocol):
    """How one broker kind keeps tests apart, and how it removes what a test left behind."""

    def open(self, namespace: str) -> None:
        """Make the namespace usable (lease a vhost, ...); cheap, it runs for every test."""

    def close(self, namespace: str, names: Collection[str]) -> None:
        """Remove everything under the namespace; `names` are those the test obtained from `name()`."""

    def shutdown(self) -> None:
        """Release what the strategy holds for the whole session (RabbitMQ's pool of vhosts)."""

    def endpoint_for(self, endpoint: BrokerEndpoint, namespace: str) -> BrokerEndpoint:
        """`endpoint` with the login a test in the namespace uses (RabbitMQ's login per test)."""

    def name(self, namespace: str, local_name: str) -> str:
        """`local_name` as seen by the broker inside the namespace."""

    def url(self, endpoint: BrokerEndpoint, namespace: str) -> str:
        """A client URL that lands in the namespace (the vhost for AMQP)."""

    def vhost(self, namespace: str) -> str | None:
        """The RabbitMQ vhost the namespace lives in (None for other kinds)."""


IsolationFactory = Callable[[BrokerEndpoint, str], Isolation]
"""Builds a kind's isolation for a broker we do not own, from its endpoint and its URL's path."""


class NamePrefixes:
    """The common strategy: names are ``<namespace><separator><name>`` on a broker everyone shares;
    nothing to create up front. Subclasses say how to remove a namespace's leftovers."""

    separator = "."

    def __init__(self, endpoint: BrokerEndpoint) -> None:
        self.endpoint = endpoint  # direct, never through a proxy: cleanup must not suffer the faults

    def open(self, namespace: str) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def endpoint_for(self, endpoint: BrokerEndpoint, namespace: str) -> BrokerEndpoint:
        return endpoint

    def name(self, namespace: str, local_name: str) -> str:
        return f"{namespace}{self.separator}{local_name}"

    def url(self, endpoint: BrokerEndpoint, namespace: str) -> str:
        return endpoint.url

    def vhost(self, namespace: str) -> str | None:
        return None


class IsolatedBroker:
    """A `BrokerHandle`: the session broker seen through this test's namespace.

    `proxied()` returns the same view reached through a fault proxy (`.proxy` adds latency, cuts the
    network); names and cleanup are shared with the direct view.
    """

    def __init__(
        self,
        server: BrokerServer,
        isolation: Isolation,
        namespace: str,
        proxy_factory: ProxyFactory | None = None,
        *,
        via: Proxy | None = None,
        names: list[str] | None = None,
        users: tuple[list[BrokerUser], list[UserAdmin]] | None = None,
    ) -> None:
        self.server = server
        self.kind: BrokerKind = server.kind
        self.namespace = namespace
        self.proxy = via
        self._isolation = isolation
        self._proxy_factory = proxy_factory
        self._names: list[str] = [] if names is None else names
        # Shared with proxied() views: the users, and the admin that made them (kept from before the
        # first user exists, so what a failed creation set up is still removed).
        self._users: tuple[list[BrokerUser], list[UserAdmin]] = ([], []) if users is None else users

    @property
    def endpoint(self) -> BrokerEndpoint:
        """Where this test's clients connect (through the proxy for a proxied view)."""
        endpoint = self._isolation.endpoint_for(self.server.endpoint, self.namespace)
        if self.proxy is None:
            return endpoint
        return dataclasses.replace(endpoint, host=self.proxy.host, port=self.proxy.port)

    @property
    def url(self) -> str:
        """A client URL that lands in this test's namespace, with its login."""
        return self.url_for(self.endpoint)

    def url_for(self, endpoint: BrokerEndpoint) -> str:
        """A client URL for `endpoint` (another login) that lands in this test's namespace."""
        return self._isolation.url(endpoint, self.namespace)

    def _external_tls(self, files: ClientTls) -> BrokerTls:
        if files.bundle_path is None:
            raise IpcUsageError(
                f"the external {self.kind} broker's TLS URL is trusted through the system's CAs: handle.url speaks TLS "
                f"already; handle.tls needs the CA bundle given, --ipc-{self.kind}-ca-bundle PATH"
            )
        if self.proxy is not None:
            raise IpcUsageError("a proxied() view of an external TLS broker relays TLS bytes; use the direct handle's tls")
        endpoint = self.endpoint
        return BrokerTls(self.url, endpoint, files.bundle_path, files.certificate(), files.cert_path is not None)

    @property
    def tls(self) -> BrokerTls:
        """How this test's clients reach the broker over TLS: URL, CA bundle, client certificate.
        Raises `IpcUsageError` when the session's broker has no TLS listener (``--ipc-<kind>-tls``)."""
        listener = self.server.tls
        served = self.server.endpoint
        if listener is None and served.tls and served.client_tls is not None:  # an external broker's TLS URL
            return self._external_tls(served.client_tls)
        if listener is None:
            raise IpcUsageError(
                f"the session's {self.kind} broker has no TLS listener; start it with one: "
                f"--ipc-{self.kind}-tls on (or mutual) / PYTEST_IPC_{self.kind.upper()}_TLS / ini ipc_{self.kind}_tls"
            )
        if self.proxy is not None:
            raise IpcUsageError("a proxied() view reaches the broker's plaintext port; use the direct handle's tls")
        endpoint = dataclasses.replace(
            self._isolation.endpoint_for(self.server.endpoint, self.namespace),
            port=self.server.endpoint.extra_ports[TLS_PORT],
            tls=True,
        )
        return BrokerTls(
            self._isolation.url(endpoint, self.namespace),
            endpoint,
            listener.bundle_path,
            listener.client_certificate,
            listener.mutual,
        )

    @property
    def vhost(self) -> str | None:
        """The RabbitMQ vhost of this test (None for other kinds)."""
        return self._isolation.vhost(self.namespace)

    def name(self, local_name: str) -> str:
        """Qualify a queue, key, subject or topic with this test's namespace (it is cleaned up after)."""
        qualified = self._isolation.name(self.namespace, local_name)
        if qualified not in self._names:
            self._names.append(qualified)
        return qualified

    def user(
        self,
        name: str,
        *,
        publish: Sequence[str] = (),
        consume: Sequence[str] = (),
        **native: object,
    ) -> BrokerUser:
        """A login of this test's own that may publish to `publish` and consume from `consume` (names
        as for `name()`), or holds the broker's own permissions given by keyword (RabbitMQ ``read``,
        ``write``, ``configure`` regexes; Redis ``keys``, ``channels``, ``commands`` ACL rules; NATS
        ``publish_deny``, ``subscribe_deny``); removed after the test. Check it with
        `pytest_ipc.assert_least_privilege`."""
        import secrets

        from pytest_ipc.brokers.privileges import BrokerUser, WithUsers

        runtime = self.server.runtime
        if not isinstance(runtime, WithUsers):
            raise IpcUsageError(
                f"per-test {self.kind} users need a broker pytest-ipc administers: this session's runs on the "
                f"{self.server.backend!r} backend; use --ipc-{self.kind}-backend local"
            )
        admin = runtime.user_admin()
        unknown = sorted(set(native) - admin.native)
        if unknown:
            raise IpcUsageError(
                f"{self.kind} users take no {', '.join(unknown)}; valid: publish, consume, {', '.join(sorted(admin.native))}"
            )
        if not name or any(not (c.isalnum() or c in "-_") for c in name):
            raise IpcUsageError(f"a user's name is letters, digits, '-' and '_', got {name!r}")
        grants = admin.grants(self, list(publish), list(consume), dict(native))
        username, password = f"{self.namespace}-{name}-{secrets.token_hex(2)}", secrets.token_hex(12)
        users, admins = self._users
        if not admins:
            admins.append(admin)
        endpoint = admin.create(self, username, password, grants)
        user = BrokerUser(name, username, password, grants, endpoint, self, admin)
        users.append(user)
        return user

    def proxied(self) -> IsolatedBroker:
        """This view through a new fault proxy in front of the broker's main port (created now,
        deleted after the test); the proxy is `.proxy` of the returned handle."""
        if self._proxy_factory is None:
            raise IpcUsageError(
                "this broker handle has no fault proxy factory: proxied() works on the <kind>_broker fixtures, "
                "which create proxies through the toxiproxy fixture"
            )
        direct = self.server.endpoint
        proxy = self._proxy_factory(f"{direct.host}:{direct.port}")
        return IsolatedBroker(
            self.server,
            self._isolation,
            self.namespace,
            self._proxy_factory,
            via=proxy,
            names=self._names,
            users=self._users,
        )

    def open(self) -> IsolatedBroker:
        """Make the namespace usable on the broker (lease a vhost, ...)."""
        self._isolation.open(self.namespace)
        return self

    def close(self) -> None:
        """Remove the test's users, then the namespace and everything the test left in it."""
        users, admins = self._users
        try:
            if admins:
                admins[0].remove(self, [user.username for user in users])
        finally:
            users.clear()
            admins.clear()
            self._isolation.close(self.namespace, list(self._names))

    def __repr__(self) -> str:
        via = f", via proxy {self.proxy.name!r}" if self.proxy is not None else ""
        return f"IsolatedBroker({self.kind!r}, namespace={self.namespace!r}, {self.endpoint.host}:{self.endpoint.port}{via})"
