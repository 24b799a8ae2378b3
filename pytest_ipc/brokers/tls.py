"""TLS listeners of the session brokers (owner of the concept): the mode a broker's TLS listener runs
in, the files it serves from the session certificate authority (`ListenerTls`), and what a test's
client needs to reach it (`BrokerTls`, a handle's ``.tls``).

The certificates come from `pytest_ipc.tls` (the session CA); nothing here issues any. The plaintext
listener stays next to the TLS one (except on NATS, whose one client port then speaks TLS only), so
the plugin's own plumbing (readiness probes, cleanup, vhost administration) and the tests that do not
care keep using it, and a session that does not ask for TLS pays nothing.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.brokers.endpoint import BrokerEndpoint
from pytest_ipc.tls.certificates import Certificate
from pytest_ipc.tls.contexts import client_context

if TYPE_CHECKING:
    from pytest_ipc.tls.ca import CertificateAuthority

#: The name of the TLS listener's port in `BrokerEndpoint.extra_ports`.
TLS_PORT = "tls"
#: Where a container finds the listener's files (mounted one by one, read-only).
CONTAINER_TLS_DIR = "/run/pytest-ipc-tls"


@dataclass(frozen=True)
class ListenerTls:
    """What a broker's TLS listener serves: the server certificate (loopback names), the CA bundle
    client certificates must chain to, whether a client must present one (`mutual`), and the
    CA-issued client certificate handed to tests (and to the plugin's own clients on NATS)."""

    bundle_path: Path
    server_certificate: Certificate
    client_certificate: Certificate
    mutual: bool

    @classmethod
    def issue(cls, authority: CertificateAuthority, *, mutual: bool) -> ListenerTls:
        """The listener's files from the session CA; `mutual` refuses clients without a certificate."""
        return cls(authority.bundle_path, authority.server_certificate(), authority.client_certificate(), mutual)

    def client_context(self, *, certificate: bool = True) -> ssl.SSLContext:
        """A client context trusting the session CA only, presenting the client certificate unless
        `certificate` is False."""
        return client_context(self.bundle_path, certificate=self.client_certificate if certificate else None)

    def container_files(self) -> tuple[dict[str, str], str, str, str]:
        """The volumes (host file -> container file) and the container's paths of the CA bundle, the
        server certificate and its key."""
        ca, cert, key = (f"{CONTAINER_TLS_DIR}/{name}" for name in ("ca.pem", "server.pem", "server.key.pem"))
        volumes = {
            str(self.bundle_path): ca,
            str(self.server_certificate.cert_path): cert,
            str(self.server_certificate.key_path): key,
        }
        return volumes, ca, cert, key


@dataclass(frozen=True)
class ClientTls:
    """How pytest-ipc and the tests speak TLS to a broker's TLS URL that is not ours (the external
    backend): the CA bundle to trust (``--ipc-<kind>-ca-bundle``; None: the system's CAs) and the
    client certificate and key for mutual TLS (``--ipc-<kind>-client-cert``, ``-client-key``)."""

    bundle_path: Path | None = None
    cert_path: Path | None = None
    key_path: Path | None = None

    def __post_init__(self) -> None:
        for path in (self.bundle_path, self.cert_path, self.key_path):
            if path is not None and not path.is_file():
                raise IpcUsageError(f"TLS file {str(path)!r} does not exist (or is not a file); give the path of a PEM file")
        if (self.cert_path is None) != (self.key_path is None):
            raise IpcUsageError("a client certificate needs its key and a key its certificate: give both, or neither")

    def context(self) -> ssl.SSLContext:
        """A client context trusting the bundle (or the system's CAs), host names checked, presenting
        the client certificate when one is given."""
        context = ssl.create_default_context(cafile=self.bundle_path)
        if self.cert_path is not None:
            context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def certificate(self) -> Certificate | None:
        """The client certificate as a `Certificate` (None without one)."""
        if self.cert_path is None or self.key_path is None:
            return None
        return Certificate.from_files(self.cert_path, self.key_path)


def endpoint_context(endpoint: BrokerEndpoint) -> ssl.SSLContext | None:
    """The client context of an external broker's TLS endpoint (its `ClientTls`), which the plugin's
    own connections use; None for any other (a plaintext port; a TLS listener of ours, whose files a
    test's handle.tls gives)."""
    if not endpoint.tls or endpoint.client_tls is None:
        return None
    return endpoint.client_tls.context()


@dataclass(frozen=True)
class BrokerTls:
    """How a test's client reaches its broker over TLS.

    `url` is the TLS URL (``amqps://``, ``rediss://``, ``tls://`` for NATS, ``mqtts://``) with the
    test's login and namespace, `endpoint` its parts (``port`` is the TLS port); `bundle_path` is the
    CA bundle to trust; `client_certificate` (``.cert_path``, ``.key_path``) is issued by the session
    CA, for mutual TLS (`mutual` says whether the broker requires it). On an external broker's TLS
    URL they are the files its options give (``--ipc-<kind>-ca-bundle``, ``-client-cert``,
    ``-client-key``): `client_certificate` is None without one, and `mutual` says whether one was given.
    """

    url: str
    endpoint: BrokerEndpoint
    bundle_path: Path
    client_certificate: Certificate | None
    mutual: bool

    def client_context(self, *, certificate: bool = True) -> ssl.SSLContext:
        """An `ssl.SSLContext` trusting the CA bundle only (host names checked), presenting the
        client certificate (if any) unless `certificate` is False."""
        return client_context(self.bundle_path, certificate=self.client_certificate if certificate else None)
