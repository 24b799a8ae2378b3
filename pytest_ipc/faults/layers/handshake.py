"""What a handshake hit by a TLS fault meets, whichever server performs it (owner of the mapping from
a TLS fault to the certificate, client CA, protocol version or held handshake that expresses it).

The HTTPS stub builds a context from the plan; a terminating fault proxy is sent it over its admin
API. Bad certificates are issued by the session's `CertificateAuthority` for the names the server is
dialled by, so the one defect the client meets is the fault's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ipc.faults import vocabulary as v

if TYPE_CHECKING:
    from pytest_ipc.tls import Certificate, CertificateAuthority

#: The certificate faults, by the defect of `BAD_SERVER_CERTIFICATES` each presents.
BAD_CERTIFICATES: dict[type[v.TlsFault], str] = {
    v.ExpiredCertificate: "expired",
    v.NotYetValidCertificate: "not-yet-valid",
    v.UnknownCa: "unknown-ca",
    v.SelfSigned: "self-signed",
}
#: The faults that hold the handshake, by what the server does with the ClientHello.
HELD: dict[type[v.TlsFault], str] = {v.HandshakeStall: "stall", v.HandshakeReset: "reset"}


@dataclass(frozen=True)
class HandshakePlan:
    """`certificate` presented instead of the server's own; client certificates required to chain to
    `client_ca`; only `version` spoken; or the handshake `held` ("stall", "reset") without any TLS."""

    certificate: Certificate | None = None
    client_ca: Path | None = None
    version: v.TlsVersion | None = None
    held: str | None = None


def plan_for(fault: v.TlsFault, authority: CertificateAuthority, identities: tuple[str, ...] = ()) -> HandshakePlan:
    """The plan expressing `fault` for a server dialled by `identities` (default: the loopback names)."""
    if isinstance(fault, v.WrongHost):
        return HandshakePlan(certificate=authority.server_certificate(fault.host))  # valid, for another name
    defect = BAD_CERTIFICATES.get(type(fault))
    if defect is not None:
        return HandshakePlan(certificate=authority.bad_server_certificate(defect, *identities))
    if isinstance(fault, v.ClientCertRequired):
        return HandshakePlan(client_ca=authority.bundle_path)
    if isinstance(fault, v.ClientCertRejected):  # trusts only a root no client certificate chains to
        return HandshakePlan(client_ca=authority.bad_server_certificate("self-signed").cert_path)
    if isinstance(fault, v.ClientCertExpired):  # the client's root, expired: its valid certificate now is too
        return HandshakePlan(client_ca=authority.expired_bundle())
    if isinstance(fault, v.OldProtocol):
        return HandshakePlan(version=fault.version)
    return HandshakePlan(held=HELD[type(fault)])  # the TLS faults left: stall, reset
