"""`ssl.SSLContext` builders for pytest-ipc's servers and the tests' clients (owner of how a context
is made: protocol bounds, client-certificate requirement, trust)."""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path

from pytest_ipc.tls.certificates import Certificate
from pytest_ipc.tls.errors import TlsUsageError

#: Protocol versions by the names the fault vocabulary and the proxy's admin API use.
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
#: Versions below TLS 1.2 need OpenSSL's security level 0 (SHA-1 in the handshake); OpenSSL 3 here allows it.
OLD_VERSIONS = frozenset({ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1})


def server_context(
    certificate: Certificate,
    *,
    client_ca: Path | None = None,
    require_client_certificate: bool = False,
    version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A server context presenting `certificate`.

    `require_client_certificate` makes it mutual TLS: a client without a certificate signed by
    `client_ca` (a PEM bundle) is refused in the handshake. `version` pins the one protocol version
    served (e.g. `ssl.TLSVersion.TLSv1_1`, to prove a client refuses an outdated server).
    """
    if require_client_certificate and client_ca is None:
        raise TlsUsageError("require_client_certificate=True needs client_ca, the CA bundle client certificates must chain to")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.load_into(context)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    if version is not None:
        pin_version(context, version)
    return context


def client_context(
    ca_bundle: Path | None, *, certificate: Certificate | None = None, version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A client context trusting `ca_bundle` only (None: trusting nothing), checking host names,
    presenting `certificate` for mutual TLS, and speaking only `version` when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_bundle is not None:
        context.load_verify_locations(cafile=ca_bundle)
    if certificate is not None:
        certificate.load_into(context)
    if version is not None:
        pin_version(context, version)
    return context


def pin_version(context: ssl.SSLContext, version: ssl.TLSVersion) -> None:
    """Allow `version` only; an old one also lowers OpenSSL's security level so it can be spoken at all."""
    if not isinstance(version, ssl.TLSVersion) or version in (ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.MAXIMUM_SUPPORTED):
        choices = ", ".join(f"ssl.TLSVersion.{name}" for name in ("TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"))
        raise TlsUsageError(f"version={version!r} is not a TLS protocol version; use one of {choices}")
    with warnings.catch_warnings():  # TLSv1 and TLSv1_1 are deprecated: serving them is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        if version in OLD_VERSIONS:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = version
        context.maximum_version = version
