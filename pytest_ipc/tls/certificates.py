"""`Certificate`: one issued certificate and its key, as PEM bytes and as files a server or client loads.

Owner of the certificate concept and of the names of the bad ones (`BAD_SERVER_CERTIFICATES`,
`BAD_CLIENT_CERTIFICATES`), which `CertificateAuthority` issues and the TLS fault helpers iterate.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: Names a loopback server is reached by: a server certificate covers them unless told otherwise.
LOOPBACK_IDENTITIES = ("localhost", "127.0.0.1", "::1")

#: Server certificates a correct client must refuse, by the defect each carries.
BAD_SERVER_CERTIFICATES = ("expired", "not-yet-valid", "wrong-host", "unknown-ca", "self-signed")

#: Client certificates a server requiring mutual TLS must refuse.
BAD_CLIENT_CERTIFICATES = ("expired", "not-yet-valid", "unknown-ca", "self-signed")


@dataclass(frozen=True)
class Certificate:
    """A certificate (with the chain up to, not including, its root) and its private key.

    `cert_path` holds the chain, `key_path` the key, both PEM, written once in the authority's
    session directory. `kind` is "server", "client", or a name from `BAD_SERVER_CERTIFICATES` /
    `BAD_CLIENT_CERTIFICATES`; `subject` is the RFC 4514 subject a server's journal shows.
    """

    kind: str
    identities: tuple[str, ...]
    subject: str
    not_before: datetime
    not_after: datetime
    chain_pem: bytes
    key_pem: bytes
    cert_path: Path
    key_path: Path
    issuer: str = field(default="")

    def load_into(self, context: ssl.SSLContext) -> None:
        """Make `context` present this certificate (a server's, or a client's for mutual TLS)."""
        context.load_cert_chain(self.cert_path, self.key_path)
