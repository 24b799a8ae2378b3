"""`TlsTermination`: how a test asks the embedded proxy to end TLS and re-open it upstream (owner of
the client side of TLS termination; the proxy side is `pytest_ipc.toxiproxy.tls`).

Without it a proxy passes TLS through untouched: toxics delay, cut and slice the encrypted bytes,
and the client checks the upstream's own certificate. With it the proxy presents `certificate` to
clients and checks the upstream's certificate against `upstream_ca`, so toxics see plaintext (a
`limit_data` counts bytes of HTTP, a `slicer` cuts requests, not records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ipc.tls import Certificate, CertificateAuthority


@dataclass(frozen=True)
class TlsTermination:
    """PEM files the proxy presents to clients (`certificate`, `key`) and trusts upstream (`upstream_ca`).

    `upstream_server_name` is the name checked on the upstream's certificate (and sent as SNI);
    None: the upstream's host. `upstream_client` is the certificate the proxy presents to an
    upstream requiring mutual TLS (the client's own certificate stays with the client: the proxy
    ends that TLS). `client_ca` makes the proxy require its clients' certificates to chain to that
    bundle (mutual TLS where the proxy terminates). The files must be readable by the proxy (the
    embedded one reads them where the test runs). `authority` and `identities` (set by `issued_by`)
    let the TLS faults issue the bad certificates the proxy then presents; they are not sent.
    """

    certificate: Path
    key: Path
    upstream_ca: Path
    upstream_server_name: str | None = None
    upstream_client: Certificate | None = None
    client_ca: Path | None = None
    authority: CertificateAuthority | None = field(default=None, compare=False, repr=False)
    identities: tuple[str, ...] = ()

    @classmethod
    def issued_by(
        cls,
        ca: CertificateAuthority,
        *identities: str,
        upstream_server_name: str | None = None,
        upstream_client: Certificate | None = None,
        require_client_certificate: bool = False,
    ) -> TlsTermination:
        """Present a server certificate of `ca` for `identities` (default: loopback names) and trust `ca`
        upstream; `require_client_certificate` makes clients present a certificate of `ca` (mutual TLS)."""
        certificate = ca.server_certificate(*identities)
        client_ca = ca.bundle_path if require_client_certificate else None
        return cls(
            certificate.cert_path, certificate.key_path, ca.bundle_path, upstream_server_name, upstream_client, client_ca,
            authority=ca, identities=certificate.identities,
        )

    def to_wire(self) -> dict[str, str]:
        """The `tls` object of a POST /proxies body."""
        wire = {"certificate": str(self.certificate), "key": str(self.key), "upstream_ca": str(self.upstream_ca)}
        if self.upstream_server_name:
            wire["upstream_server_name"] = self.upstream_server_name
        if self.upstream_client is not None:
            wire["upstream_certificate"] = str(self.upstream_client.cert_path)
            wire["upstream_key"] = str(self.upstream_client.key_path)
        if self.client_ca is not None:
            wire["client_ca"] = str(self.client_ca)
        return wire
