"""The ``external`` backend of a broker: one the user already runs (a CI service container, a shared
server), given as a URL (`parse_broker_url`). It is not ours: nothing is started, stopped or killed
here. With RabbitMQ's management port in the URL, tests get a vhost each; without it, prefixed names
in the URL's vhost. A TLS URL (amqps://, rediss://, tls://, mqtts://) is spoken over TLS by the
plugin and the tests alike, trusting and presenting what `ClientTls` (``--ipc-<kind>-ca-bundle``,
``-client-cert``, ``-client-key``) gives.
"""

from __future__ import annotations

import dataclasses

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import accepts_connections
from pytest_ipc.brokers.endpoint import TLS_SCHEMES, BrokerEndpoint, BrokerKind, parse_broker_url
from pytest_ipc.brokers.errors import BrokerControlError, BrokerError, NoCrashControls
from pytest_ipc.brokers.handles import Isolation, IsolationFactory
from pytest_ipc.brokers.privileges import UserAdmin, UserAdminFactory, users_of_broker_not_ours
from pytest_ipc.brokers.tls import TLS_PORT, ClientTls, ListenerTls


class ExternalBroker(NoCrashControls):
    """Backend and runtime for a broker at a URL; crash controls raise `BrokerControlError`."""

    name = "external"

    def __init__(
        self,
        kind: BrokerKind,
        url: str | None,
        isolation: IsolationFactory,
        where: str,
        *,
        users: UserAdminFactory | None = None,
        tls: ListenerTls | None = None,
        client_tls: ClientTls | None = None,
        client_tls_where: str = "",
    ) -> None:
        self.kind = kind
        self.tls = tls
        self.client_tls = client_tls
        self._client_tls_where = client_tls_where  # the options that give it, for messages
        self._users = users
        self._user_admin: UserAdmin | None = None
        self.url = url
        self._isolation = isolation
        self._where = where  # the option and variable that give the URL, for messages

    def unavailable_reason(self) -> str | None:
        if self.tls is not None:
            return f"an external broker's TLS listener is not ours to configure (--ipc-{self.kind}-tls needs the local backend)"
        return None if self.url else f"no URL given ({self._where})"

    def _parsed(self) -> tuple[BrokerEndpoint, str]:
        if not self.url:
            raise IpcUsageError(f"external {self.kind}: {self.unavailable_reason()}")
        endpoint, path = parse_broker_url(self.kind, self.url)
        if not endpoint.tls:
            if self.client_tls is not None:
                raise IpcUsageError(
                    f"TLS files were given{f' ({self._client_tls_where})' if self._client_tls_where else ''}, but the external "
                    f"{self.kind} URL is not a TLS one "
                    f"({self.url.split('://')[0]}://); use {TLS_SCHEMES[self.kind]}://HOST:PORT, or drop the TLS files"
                )
            return endpoint, path
        # TLS on the URL's port: the plugin's own connections and the tests' handle.tls use the given files
        extra = {**endpoint.extra_ports, TLS_PORT: endpoint.port}
        return dataclasses.replace(endpoint, client_tls=self.client_tls or ClientTls(), extra_ports=extra), path

    @property
    def endpoint(self) -> BrokerEndpoint:
        return self._parsed()[0]

    def start(self) -> ExternalBroker:
        endpoint = self.endpoint
        if not accepts_connections(endpoint.host, endpoint.port):
            raise BrokerError(
                f"external {self.kind} at {endpoint.host}:{endpoint.port} (from {self._where}) "
                "does not accept connections; start it, or correct the URL"
            )
        return self

    def stop(self) -> None:
        return None

    def user_admin(self) -> UserAdmin:
        """Per-test users, where the kind has them on a broker we do not own (`pytest_ipc.brokers.privileges`)."""
        if self._user_admin is None:
            self._user_admin = users_of_broker_not_ours(self.kind, self.name, self.endpoint, self._users)
        return self._user_admin

    def isolation(self) -> Isolation:
        return self._isolation(*self._parsed())

    def _not_ours(self) -> BrokerControlError:
        return BrokerControlError(
            f"the external {self.kind} at {self.endpoint.host}:{self.endpoint.port} is not ours to stop, "
            f"kill or restart; run crash tests with --ipc-{self.kind}-backend=local or container"
        )
