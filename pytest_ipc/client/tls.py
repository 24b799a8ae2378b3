"""`TlsTermination`: how a test asks the embedded proxy to end TLS and re-open it upstream (owner of
the client side of TLS termination; the proxy side is `pytest_ipc.toxiproxy.tls`).

Without it a proxy passes TLS through untouched: toxics delay, cut and slice the encrypted bytes,
and the client checks the upstream's own certificate. With it the proxy presents `certificate` to
clients and checks the upstream's certificate against `upstream_ca`, so toxics see plaintext (a
`limit_data` counts bytes of HTTP, a `slicer` cuts requests, not records).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ipc.tls import CertificateAuthority


@dataclass(frozen=True)
class TlsTermination:
    """PEM files the proxy presents to clients (`certificate`, `key`) and trusts upstream (`upstream_ca`).

    `upstream_server_name` is the name checked on the upstream's certificate (and sent as SNI);
    None: the upstream's host. The files must be readable by the proxy (the embedded one reads them
    where the test runs).
    """

    certificate: Path
    key: Path
    upstream_ca: Path
    upstream_server_name: str | None = None

    @classmethod
    def issued_by(cls, ca: CertificateAuthority, *identities: str, upstream_server_name: str | None = None) -> TlsTermination:
        """Present a server certificate of `ca` for `identities` (default: loopback names) and trust `ca` upstream."""
        certificate = ca.server_certificate(*identities)
        return cls(certificate.cert_path, certificate.key_path, ca.bundle_path, upstream_server_name)

    def to_wire(self) -> dict[str, str]:
        """The `tls` object of a POST /proxies body."""
        wire = {"certificate": str(self.certificate), "key": str(self.key), "upstream_ca": str(self.upstream_ca)}
        if self.upstream_server_name:
            wire["upstream_server_name"] = self.upstream_server_name
        return wire
