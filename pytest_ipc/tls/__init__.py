"""TLS for service-to-service tests: a session certificate authority (`ca`), good and bad
certificates (`certificates`), and the `ssl.SSLContext` builders servers and clients use.

Needs the ``security`` extra (trustme, cryptography).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_ipc.tls.certificates import BAD_CLIENT_CERTIFICATES, BAD_SERVER_CERTIFICATES, LOOPBACK_IDENTITIES, Certificate
from pytest_ipc.tls.contexts import client_context, server_context
from pytest_ipc.tls.errors import TlsError, TlsUsageError

if TYPE_CHECKING:
    from pytest_ipc.tls.ca import CertificateAuthority

__all__ = [
    "BAD_CLIENT_CERTIFICATES",
    "BAD_SERVER_CERTIFICATES",
    "LOOPBACK_IDENTITIES",
    "Certificate",
    "CertificateAuthority",
    "TlsError",
    "TlsUsageError",
    "client_context",
    "server_context",
]


def __getattr__(name: str) -> Any:
    """`CertificateAuthority` is imported on first use: it needs trustme, which a stub serving plain
    HTTP (and importing this package's errors) must not load."""
    if name == "CertificateAuthority":
        from pytest_ipc.tls.ca import CertificateAuthority

        return CertificateAuthority
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
