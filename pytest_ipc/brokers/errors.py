"""The exceptions of the brokers area (the messaging area has its own in `messaging.errors`)."""

from __future__ import annotations

from pytest_ipc._errors import IpcAssertionError, IpcError


class BrokerControlError(IpcError):
    """The broker cannot be stopped, killed or restarted by us (it is not ours, or it did not come back)."""


class BrokerError(IpcError, ConnectionError):
    """A broker refused us or did not answer in time (a connection, a cleanup, an administration call).

    A `ConnectionError`, so code that retries on connection errors treats it as one."""


class LeastPrivilegeError(IpcAssertionError):
    """A broker user was refused what its service tried, or holds grants its service never used."""
