"""Every exception the contract checks raise, in one place (the concept's owner).

A broken contract is an `IpcAssertionError` (pytest shows it as a failed test); a test suite that
cannot be verified as written (two tests defining one interaction differently, a state nobody
handles) is an `IpcUsageError`; a provider nobody started is neither, so it is reported as such.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from pytest_ipc._errors import IpcAssertionError, IpcError, IpcUsageError
from pytest_ipc._net import LOOPBACK


class ContractError(IpcAssertionError):
    """A contract was broken; `mismatches` lists every problem, `result` keeps the raw evidence.

    The message lists each mismatch on its own line, sorted, so two runs of the same broken
    contract print the same text.
    """

    def __init__(self, headline: str, mismatches: list[str], result: Any = None) -> None:
        self.headline = headline
        self.mismatches = sorted(mismatches)
        self.result = result
        lines = "\n".join(f"  - {mismatch}" for mismatch in self.mismatches)
        super().__init__(f"{headline}\n{lines}" if lines else headline)


class NoPactsFound(IpcAssertionError):
    """A provider test found nothing to verify: a green run would have verified nothing."""


class NotAPact(IpcUsageError):
    """A file that should be a pact and is not (unreadable, not JSON, no consumer or provider)."""


class PactConflict(IpcUsageError):
    """Two tests define the same interaction (same identity) with different content."""


class UnknownProviderState(IpcUsageError):
    """The pact needs a state nobody registered a handler for."""


class ProviderUnreachable(IpcError):
    """Nothing answers at the provider's URL: the provider is down, not in breach of the contract."""

    PROBE_TIMEOUT = 1.0
    """How long one connection attempt to the provider may take, in seconds."""

    @classmethod
    def probe(cls, base_url: str, expected: str) -> None:
        """Raise unless something accepts a TCP connection at `base_url` (the one check pact verification
        and provider conformance make before they blame the provider); `expected` says what was to be verified."""
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or LOOPBACK, port), timeout=cls.PROBE_TIMEOUT).close()
        except OSError as error:
            raise cls(
                f"nothing answers at {base_url} — is the provider running? Expected {expected}; measured: {error}. "
                "Start it (a fixture that yields its URL) and pass that URL."
            ) from None


class PactBrokerError(IpcError):
    """The Pact Broker could not be reached or refused a request; `status` is its HTTP status, if any.

    The message says what was expected and what to do (which credentials to set, which URL to
    check); it never contains the credentials themselves.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
