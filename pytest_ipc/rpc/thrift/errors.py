"""The errors of the Thrift stub: bad input (an unknown method, protocol, exception) names the choices."""

from __future__ import annotations

from pytest_ipc.rpc.errors import RpcUsageError


class ThriftUsageError(RpcUsageError):
    """An IDL, method, reply, protocol or transport the Thrift stub cannot use; the message lists the choices."""
