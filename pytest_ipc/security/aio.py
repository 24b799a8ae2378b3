"""The async forms of the security assertions: the same names, awaited on the test's own loop.

The probes are the sync forms' own, run by `pytest_ipc.resilience.calls.drive_async`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_ipc.resilience.calls import AsyncCall, CallOutcome, drive_async
from pytest_ipc.security.plaintext import plaintext_probe
from pytest_ipc.security.verification import client_certificate_probe, verification_probe

if TYPE_CHECKING:
    from pytest_ipc.rpc.grpc_server import GrpcStub
    from pytest_ipc.stub import HttpStub

__all__ = ["assert_no_credentials_over_plaintext", "assert_presents_client_certificate", "assert_verifies_server"]


async def assert_no_credentials_over_plaintext(
    call: AsyncCall, stub: HttpStub | GrpcStub, *, wait_up_to: float = 5.0, must_reach: bool = True
) -> CallOutcome:
    """Async form of `pytest_ipc.security.assert_no_credentials_over_plaintext`."""
    return await drive_async(call, plaintext_probe(stub, wait_up_to, must_reach))


async def assert_verifies_server(call: AsyncCall, stub: HttpStub | GrpcStub, *, wait_up_to: float = 5.0) -> list[CallOutcome]:
    """Async form of `pytest_ipc.security.assert_verifies_server`."""
    return await drive_async(call, verification_probe(stub, wait_up_to))


async def assert_presents_client_certificate(call: AsyncCall, stub: HttpStub | GrpcStub, *, wait_up_to: float = 5.0) -> CallOutcome:
    """Async form of `pytest_ipc.security.assert_presents_client_certificate`."""
    return await drive_async(call, client_certificate_probe(stub, wait_up_to))
