"""The exceptions of the brokers area (the messaging area has its own in `messaging.errors`)."""

from __future__ import annotations

from pytest_ipc._errors import IpcAssertionError, IpcError


class BrokerControlError(IpcError):
    """The broker cannot be stopped, killed or restarted by us (it is not ours, or it did not come back)."""


class NoCrashControls:
    """A broker runtime that is not ours to stop, kill or restart (external, or shared with other
    tests): each crash control raises `_not_ours()`, which says why and what to use instead."""

    def _not_ours(self) -> BrokerControlError:
        raise NotImplementedError

    def stop_broker(self) -> None:
        raise self._not_ours()

    def kill_broker(self) -> None:
        raise self._not_ours()

    def start_broker(self) -> None:
        raise self._not_ours()


class BrokerError(IpcError, ConnectionError):
    """A broker refused us or did not answer in time (a connection, a cleanup, an administration call).

    A `ConnectionError`, so code that retries on connection errors treats it as one."""


class LeastPrivilegeError(IpcAssertionError):
    """A broker user was refused what its service tried, or holds grants its service never used."""
