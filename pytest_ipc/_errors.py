"""The one base exception of pytest-ipc; each area subclasses it (`ToxiproxyError`, `ContractError`...).

`IpcUsageError` is bad input: its message names the problem and the valid choices. A verdict that
fails (a fault that never fired, a client that broke its contract) is an `IpcAssertionError`, so
pytest reports it as a test failure; its message says what was expected, what was measured, and
what to do.
"""

from __future__ import annotations


class IpcError(Exception):
    """Base of every exception pytest-ipc raises."""


class IpcUsageError(IpcError, ValueError):
    """An argument or setting pytest-ipc cannot use; the message lists the valid choices."""


class IpcAssertionError(IpcError, AssertionError):
    """A verdict failed: the message says what was expected, what was measured and what to do."""
