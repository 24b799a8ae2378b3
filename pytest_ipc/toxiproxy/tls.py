"""TLS termination in the embedded proxy (owner of the concept; pass-through needs nothing: TLS bytes
are bytes to a TCP proxy).

A proxy created with a `tls` object in its POST /proxies body (an extension upstream Toxiproxy does
not have: it ignores the field, which the client notices) ends its clients' TLS with `certificate`
and `key`, and opens TLS to its upstream, checking the upstream's certificate against `upstream_ca`
for `upstream_server_name` (default: the upstream's host), presenting `upstream_certificate` and
`upstream_key` when the upstream requires mutual TLS, and requiring its clients' certificates to
chain to `client_ca` when given (mutual TLS on the client side). Toxics then act on plaintext. Files
are PEM paths on the proxy's machine: the proxy reads them once, at creation.

A terminating proxy also performs the TLS faults (`HandshakeFault`, POST /proxies/{name}/tls_fault):
each accepted connection draws the fault's toxicity and, when hit, is handshaken with the fault's
context (another certificate, a client CA, one old protocol version) or held without a handshake
(its ClientHello swallowed, or answered with a TCP reset).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from pytest_ipc._net import split_host_port
from pytest_ipc.tls.contexts import VERSIONS, pin_version
from pytest_ipc.tls.errors import TlsUsageError
from pytest_ipc.toxiproxy.gojson import FLOAT32, STRING, Struct

TLS_BODY = Struct(
    "TLS",
    "toxiproxy.TLS",
    (
        ("certificate", STRING),
        ("key", STRING),
        ("upstream_ca", STRING),
        ("upstream_server_name", STRING),
        ("upstream_certificate", STRING),
        ("upstream_key", STRING),
        ("client_ca", STRING),
    ),
)
REQUIRED = ("certificate", "key", "upstream_ca")


class TerminationError(ValueError):
    """A `tls` object the proxy cannot use: a field is missing or a file does not load."""


@dataclass(frozen=True)
class Termination:
    """What a terminating proxy presents to clients and trusts upstream, with the contexts built from it."""

    certificate: str
    key: str
    upstream_ca: str
    upstream_server_name: str
    upstream_certificate: str
    upstream_key: str
    client_ca: str
    server_context: ssl.SSLContext
    upstream_context: ssl.SSLContext

    @classmethod
    def from_fields(cls, fields: dict[str, str], upstream: str) -> Termination:
        """Build from the decoded `tls` object; `upstream` ("host:port") names the default server name."""
        missing = [name for name in REQUIRED if not fields.get(name)]
        if missing:
            raise TerminationError(f"tls needs {', '.join(REQUIRED)}; missing: {', '.join(missing)}")
        server_name = fields.get("upstream_server_name") or _host(upstream)
        try:
            server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server.load_cert_chain(fields["certificate"], fields["key"])
            if fields.get("client_ca"):
                server.load_verify_locations(cafile=fields["client_ca"])
                server.verify_mode = ssl.CERT_REQUIRED
            client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client.load_verify_locations(cafile=fields["upstream_ca"])
            if fields.get("upstream_certificate"):
                client.load_cert_chain(fields["upstream_certificate"], fields.get("upstream_key") or None)
        except (OSError, ssl.SSLError) as error:
            raise TerminationError(
                f"tls: cannot load the certificate, key, upstream_ca, client_ca or upstream certificate: {error}"
            ) from None
        return cls(
            fields["certificate"], fields["key"], fields["upstream_ca"], server_name,
            fields.get("upstream_certificate", ""), fields.get("upstream_key", ""), fields.get("client_ca", ""), server, client,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "certificate": self.certificate,
            "key": self.key,
            "upstream_ca": self.upstream_ca,
            "upstream_server_name": self.upstream_server_name,
            "upstream_certificate": self.upstream_certificate,
            "upstream_key": self.upstream_key,
            "client_ca": self.client_ca,
        }


def _host(address: str) -> str:
    try:
        return split_host_port(address)[0]
    except ValueError:  # the upstream is checked when a client connects; its error is reported then
        return address


# -- TLS faults on a terminating proxy -------------------------------------------------------------
TLS_FAULT_BODY = Struct(
    "TLSFault",
    "toxiproxy.TLSFault",
    (
        ("certificate", STRING),
        ("key", STRING),
        ("client_ca", STRING),
        ("version", STRING),
        ("handshake", STRING),
        ("toxicity", FLOAT32),
    ),
)
#: What a held handshake does with the client's ClientHello: swallow it, or answer it with a TCP reset.
HANDSHAKES = ("stall", "reset")


@dataclass(frozen=True)
class HandshakeFault:
    """A TLS fault in place on a terminating proxy: what a hit connection's handshake meets instead.

    `context` (None for a held handshake) presents `certificate` (default: the termination's),
    requires client certificates chaining to `client_ca` when given, and speaks only `version` when
    given; `handshake` ("stall" or "reset") holds the connection without any TLS instead.
    """

    certificate: str
    key: str
    client_ca: str
    version: str
    handshake: str
    toxicity: float
    context: ssl.SSLContext | None

    @classmethod
    def from_fields(cls, fields: dict[str, object], termination: Termination) -> HandshakeFault:
        """Build from the decoded body; nothing given is a fault that changes nothing, refused."""
        certificate, key = str(fields.get("certificate") or ""), str(fields.get("key") or "")
        client_ca, version, handshake = (str(fields.get(name) or "") for name in ("client_ca", "version", "handshake"))
        toxicity = float(fields.get("toxicity", 1.0))  # type: ignore[arg-type]  # decoded as float32
        if not 0.0 <= toxicity <= 1.0:
            raise TerminationError(f"tls_fault: toxicity must be from 0 to 1, got {toxicity}")
        if handshake and handshake not in HANDSHAKES:
            raise TerminationError(f"tls_fault: unknown handshake {handshake!r}; choose one of: {', '.join(HANDSHAKES)}")
        if version and version not in VERSIONS:
            raise TerminationError(f"tls_fault: unknown version {version!r}; choose one of: {', '.join(VERSIONS)}")
        if bool(certificate) != bool(key):
            raise TerminationError("tls_fault: certificate and key go together; one of them is missing")
        if not (certificate or client_ca or version or handshake):
            raise TerminationError("tls_fault needs one of certificate and key, client_ca, version or handshake")
        if handshake and (certificate or client_ca or version):
            raise TerminationError("tls_fault: a held handshake (stall, reset) presents nothing; leave out certificate, client_ca, version")
        context = None if handshake else _fault_context(termination, certificate, key, client_ca, version)
        return cls(certificate, key, client_ca, version, handshake, toxicity, context)

    def to_json(self) -> dict[str, object]:
        return {
            "certificate": self.certificate,
            "key": self.key,
            "client_ca": self.client_ca,
            "version": self.version,
            "handshake": self.handshake,
            "toxicity": self.toxicity,
        }


def _fault_context(termination: Termination, certificate: str, key: str, client_ca: str, version: str) -> ssl.SSLContext:
    """The termination's server context with the fault's certificate, client CA and version in place of its own."""
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate or termination.certificate, key or termination.key)
        client_ca = client_ca or termination.client_ca
        if client_ca:
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        if version:
            pin_version(context, VERSIONS[version])
    except (OSError, ssl.SSLError, TlsUsageError) as error:
        raise TerminationError(f"tls_fault: cannot load the certificate, key or client_ca: {error}") from None
    return context
