"""The errors of the RPC stubs: bad input, and a call the stub could not answer as configured."""

from __future__ import annotations

from pytest_ipc._errors import IpcUsageError


class RpcUsageError(IpcUsageError):
    """Bad input to an RPC stub: an unknown status code, method, service or reply argument."""
