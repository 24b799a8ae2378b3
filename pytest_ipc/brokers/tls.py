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
class BrokerTls:
    """How a test's client reaches its broker over TLS.

    `url` is the TLS URL (``amqps://``, ``rediss://``, ``tls://`` for NATS, ``mqtts://``) with the
    test's login and namespace, `endpoint` its parts (``port`` is the TLS port); `bundle_path` is the
    CA bundle to trust; `client_certificate` (``.cert_path``, ``.key_path``) is issued by the session
    CA, for mutual TLS (`mutual` says whether the broker requires it).
    """

    url: str
    endpoint: BrokerEndpoint
    bundle_path: Path
    client_certificate: Certificate
    mutual: bool

    def client_context(self, *, certificate: bool = True) -> ssl.SSLContext:
        """An `ssl.SSLContext` trusting the session CA only (host names checked), presenting the
        client certificate unless `certificate` is False."""
        return client_context(self.bundle_path, certificate=self.client_certificate if certificate else None)
