"""`Certificate`: one issued certificate and its key, as PEM bytes and as files a server or client loads.

Owner of the certificate concept and of the names of the bad ones (`BAD_SERVER_CERTIFICATES`,
`BAD_CLIENT_CERTIFICATES`), which `CertificateAuthority` issues and the TLS fault helpers iterate.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
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
    session directory. `kind` is "server", "client", a defect of `BAD_SERVER_CERTIFICATES`, or
    "client-" and a defect of `BAD_CLIENT_CERTIFICATES`; `subject` and `issuer` are RFC 4514
    strings (`subject` is what the stub's journal shows as `client_subject`).
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
    issuer: str

    @classmethod
    def from_files(cls, cert_path: Path, key_path: Path, kind: str = "client") -> Certificate:
        """A certificate someone else issued, read from its PEM files (the chain first in `cert_path`)."""
        from cryptography import x509

        chain_pem = cert_path.read_bytes()
        cert = x509.load_pem_x509_certificate(chain_pem)
        names: tuple[str, ...] = ()
        try:
            alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(str(name.value) for name in alternatives)
        except x509.ExtensionNotFound:
            pass
        return cls(
            kind=kind,
            identities=names,
            subject=cert.subject.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            chain_pem=chain_pem,
            key_pem=key_path.read_bytes(),
            cert_path=cert_path,
            key_path=key_path,
            issuer=cert.issuer.rfc4514_string(),
        )

    def load_into(self, context: ssl.SSLContext) -> None:
        """Make `context` present this certificate (a server's, or a client's for mutual TLS)."""
        context.load_cert_chain(self.cert_path, self.key_path)
