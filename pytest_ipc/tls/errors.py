"""The TLS area's exceptions (owner of the concept: every TLS error pytest-ipc raises is one of these)."""

from __future__ import annotations

from pytest_ipc._errors import IpcError, IpcUsageError


class TlsError(IpcError):
    """A TLS set-up pytest-ipc could not make (a certificate, a context, a listener)."""


class TlsUsageError(TlsError, IpcUsageError):
    """A TLS argument pytest-ipc cannot use; the message lists the valid choices."""
