"""`CertificateAuthority`: the session's certificate authority (owner of issuing certificates).

One CA per session (the `ipc_tls_ca` fixture): its bundle is what clients trust, it issues server
certificates for loopback names, client certificates for mutual TLS, and the bad certificates a
correct client or server must refuse (`BAD_SERVER_CERTIFICATES`, `BAD_CLIENT_CERTIFICATES`). Keys
are EC (P-256), so issuing costs about a millisecond; each certificate is issued once and cached,
and its files live in the authority's directory until `close()`.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from pytest_ipc._optional import require

require("trustme", extra="security", feature="the TLS certificate authority")

import trustme  # noqa: E402  (imported once `require` made a missing extra a clear error)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from pytest_ipc.backends.local import make_private_dir, remove_private_dir  # noqa: E402
from pytest_ipc.tls.certificates import BAD_CLIENT_CERTIFICATES, BAD_SERVER_CERTIFICATES, LOOPBACK_IDENTITIES, Certificate  # noqa: E402
from pytest_ipc.tls.contexts import client_context, server_context  # noqa: E402
from pytest_ipc.tls.errors import TlsUsageError  # noqa: E402

ORGANIZATION = "pytest-ipc session CA"
UNKNOWN_ORGANIZATION = "pytest-ipc unknown CA"
#: How far outside its validity window an expired or not-yet-valid certificate lies.
OUT_OF_WINDOW = datetime.timedelta(days=2)
VALIDITY = datetime.timedelta(days=30)
DEFAULT_CLIENT = "client.pytest-ipc.test"


class CertificateAuthority:
    """A certificate authority for one session; use as a context manager or call `close()`.

    `bundle_path` is its certificate as a PEM file (what a client's `verify=`/`cafile` wants).
    Server certificates name `LOOPBACK_IDENTITIES` unless given other identities. Thread-safe.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._owned = directory is None
        # A private dir of the session's: its watchdog removes it if the session is killed.
        self.directory = make_private_dir("tls") if directory is None else directory
        self._ca = trustme.CA(organization_name=ORGANIZATION)
        self._unknown: trustme.CA | None = None
        self._issued: dict[tuple[str, tuple[str, ...]], Certificate] = {}
        self._lock = threading.Lock()
        self.bundle_pem = self._ca.cert_pem.bytes()
        self.bundle_path = self.directory / "ca-bundle.pem"
        self.bundle_path.write_bytes(self.bundle_pem)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the files (the directory too when the authority made it)."""
        if self._owned:
            remove_private_dir(self.directory)
        else:
            for path in self.directory.glob("*.pem"):
                path.unlink(missing_ok=True)

    def __enter__(self) -> CertificateAuthority:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- good certificates -----------------------------------------------------------------------
    def server_certificate(self, *identities: str) -> Certificate:
        """A valid server certificate for `identities` (host names, IPs), by default the loopback names."""
        names = identities or LOOPBACK_IDENTITIES
        return self._issue("server", names, lambda: self._ca.issue_cert(*names, organization_name=ORGANIZATION))

    def client_certificate(self, name: str = DEFAULT_CLIENT) -> Certificate:
        """A valid client certificate for mutual TLS; `name` (a DNS-like service name) is its common name."""
        return self._issue("client", (name,), lambda: self._ca.issue_cert(name, common_name=name, organization_name=ORGANIZATION))

    # -- bad certificates ------------------------------------------------------------------------
    def bad_server_certificate(self, defect: str, *identities: str) -> Certificate:
        """A server certificate with `defect` (one of `BAD_SERVER_CERTIFICATES`) for `identities`.

        "wrong-host" names `wrong-host.pytest-ipc.test` whatever `identities` say; "unknown-ca" is
        signed by a CA no bundle of this authority contains; "self-signed" is its own issuer.
        """
        if defect not in BAD_SERVER_CERTIFICATES:
            raise TlsUsageError(f"no bad server certificate {defect!r}; choose one of {', '.join(BAD_SERVER_CERTIFICATES)}")
        names = ("wrong-host.pytest-ipc.test",) if defect == "wrong-host" else identities or LOOPBACK_IDENTITIES
        return self._bad(defect, names, common_name=None)

    def bad_client_certificate(self, defect: str, name: str = DEFAULT_CLIENT) -> Certificate:
        """A client certificate with `defect` (one of `BAD_CLIENT_CERTIFICATES`); `name` is its common name."""
        if defect not in BAD_CLIENT_CERTIFICATES:
            raise TlsUsageError(f"no bad client certificate {defect!r}; choose one of {', '.join(BAD_CLIENT_CERTIFICATES)}")
        return self._bad(f"client-{defect}", (name,), common_name=name)

    def _bad(self, kind: str, names: tuple[str, ...], common_name: str | None) -> Certificate:
        defect = kind.removeprefix("client-")
        if defect == "self-signed":
            return self._issue(kind, names, lambda: _self_signed(names, common_name))
        issuer = self._unknown_ca() if defect == "unknown-ca" else self._ca
        now = datetime.datetime.now(datetime.UTC)
        not_before: datetime.datetime | None = None
        not_after: datetime.datetime | None = None
        if defect == "expired":
            not_before, not_after = now - OUT_OF_WINDOW - VALIDITY, now - OUT_OF_WINDOW
        elif defect == "not-yet-valid":
            not_before, not_after = now + OUT_OF_WINDOW, now + OUT_OF_WINDOW + VALIDITY
        return self._issue(
            kind, names, lambda: issuer.issue_cert(*names, common_name=common_name, not_before=not_before, not_after=not_after)
        )

    def expired_bundle(self) -> Path:
        """This authority's root re-issued (same name and key) with a validity that ended, as a PEM file.

        A server trusting only it refuses this authority's valid client certificates as expired
        (the "certificate expired" alert), which is how a TLS fault makes a client's certificate
        expire without the client changing it.
        """
        with self._lock:
            path = self.directory / "ca-bundle-expired.pem"
            if not path.exists():
                root: x509.Certificate = self._ca._certificate  # trustme keeps the root and its key here
                now = datetime.datetime.now(datetime.UTC)
                builder = (
                    x509.CertificateBuilder()
                    .subject_name(root.subject)
                    .issuer_name(root.issuer)
                    .public_key(root.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - OUT_OF_WINDOW - VALIDITY)
                    .not_valid_after(now - OUT_OF_WINDOW)
                )
                for extension in root.extensions:
                    builder = builder.add_extension(extension.value, extension.critical)
                expired = builder.sign(self._ca._private_key, hashes.SHA256())
                path.write_bytes(expired.public_bytes(serialization.Encoding.PEM))
            return path

    def _unknown_ca(self) -> trustme.CA:
        if self._unknown is None:
            self._unknown = trustme.CA(organization_name=UNKNOWN_ORGANIZATION)
        return self._unknown

    # -- contexts --------------------------------------------------------------------------------
    def client_context(self, certificate: Certificate | None = None, *, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        """A client context trusting this CA only (host names checked), presenting `certificate` for mutual TLS."""
        return client_context(self.bundle_path, certificate=certificate, version=version)

    def server_context(
        self,
        certificate: Certificate | None = None,
        *,
        require_client_certificate: bool = False,
        accept_client_certificate: bool = False,
        version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        """A server context presenting `certificate` (default: the loopback server certificate).

        `require_client_certificate` makes it mutual TLS with client certificates from this CA;
        `accept_client_certificate` asks for one but lets a client without one in (`ssl.CERT_OPTIONAL`);
        `version` pins one protocol version (TLS 1.0 and 1.1 work here: OpenSSL 3 at security level 0).
        """
        return server_context(
            certificate or self.server_certificate(),
            client_ca=self.bundle_path if require_client_certificate or accept_client_certificate else None,
            require_client_certificate=require_client_certificate,
            version=version,
        )

    # -- issuing ---------------------------------------------------------------------------------
    def _issue(self, kind: str, names: tuple[str, ...], make: Callable[[], trustme.LeafCert | tuple[bytes, bytes]]) -> Certificate:
        key = (kind, names)
        with self._lock:
            issued = self._issued.get(key)
            if issued is None:
                made = make()
                chain_pem, key_pem = made if isinstance(made, tuple) else _pems(made)
                issued = self._issued[key] = self._write(kind, names, chain_pem, key_pem)
            return issued

    def _write(self, kind: str, names: tuple[str, ...], chain_pem: bytes, key_pem: bytes) -> Certificate:
        stem = f"{kind}-{len(self._issued)}"
        cert_path, key_path = self.directory / f"{stem}.pem", self.directory / f"{stem}.key.pem"
        cert_path.write_bytes(chain_pem)
        key_path.write_bytes(key_pem)
        # the names asked for, in their order (the certificate's own may be a bad certificate's)
        return dataclasses.replace(Certificate.from_files(cert_path, key_path, kind), identities=names)



def _pems(leaf: trustme.LeafCert) -> tuple[bytes, bytes]:
    """(chain PEM without the root, key PEM) of a certificate trustme issued."""
    return b"".join(blob.bytes() for blob in leaf.cert_chain_pems), leaf.private_key_pem.bytes()


def _self_signed(names: tuple[str, ...], common_name: str | None) -> tuple[bytes, bytes]:
    """A leaf certificate that is its own issuer (no CA vouches for it), for `names`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alternatives: list[x509.GeneralName] = []
    for identity in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(identity)))
        except ValueError:
            alternatives.append(x509.DNSName(identity))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
