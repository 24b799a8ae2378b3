"""The errors of the security assertions (their verdicts are `IpcAssertionError`s)."""

from __future__ import annotations

from pytest_ipc._errors import IpcUsageError


class SecurityUsageError(IpcUsageError):
    """A security assertion's argument it cannot use; the message says what it takes."""
