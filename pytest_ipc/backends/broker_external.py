"""The ``external`` backend of a broker: one the user already runs (a CI service container, a shared
server), given as a URL (`parse_broker_url`). It is not ours: nothing is started, stopped or killed
here. With RabbitMQ's management port in the URL, tests get a vhost each; without it, prefixed names
in the URL's vhost.
"""

from __future__ import annotations

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import accepts_connections
from pytest_ipc.brokers.endpoint import BrokerEndpoint, BrokerKind, parse_broker_url
from pytest_ipc.brokers.errors import BrokerControlError, BrokerError
from pytest_ipc.brokers.handles import Isolation, IsolationFactory
from pytest_ipc.brokers.privileges import UserAdmin, UserAdminFactory, users_of_broker_not_ours
from pytest_ipc.brokers.tls import ListenerTls


class ExternalBroker:
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
    ) -> None:
        self.kind = kind
        self.tls = tls
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
        return parse_broker_url(self.kind, self.url)

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

    def stop_broker(self) -> None:
        raise self._not_ours()

    def kill_broker(self) -> None:
        raise self._not_ours()

    def start_broker(self) -> None:
        raise self._not_ours()
