"""TLS termination in the embedded proxy (owner of the concept; pass-through needs nothing: TLS bytes
are bytes to a TCP proxy).

A proxy created with a `tls` object in its POST /proxies body (an extension upstream Toxiproxy does
not have: it ignores the field, which the client notices) ends its clients' TLS with `certificate`
and `key`, and opens TLS to its upstream, checking the upstream's certificate against `upstream_ca`
for `upstream_server_name` (default: the upstream's host). Toxics then act on plaintext. Files are
PEM paths on the proxy's machine: the proxy reads them once, at creation.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from pytest_ipc._net import split_host_port
from pytest_ipc.toxiproxy.gojson import STRING, Struct

TLS_BODY = Struct(
    "TLS",
    "toxiproxy.TLS",
    (("certificate", STRING), ("key", STRING), ("upstream_ca", STRING), ("upstream_server_name", STRING)),
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
            client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client.load_verify_locations(cafile=fields["upstream_ca"])
        except (OSError, ssl.SSLError) as error:
            raise TerminationError(f"tls: cannot load the certificate, key or upstream_ca: {error}") from None
        return cls(fields["certificate"], fields["key"], fields["upstream_ca"], server_name, server, client)

    def to_json(self) -> dict[str, object]:
        return {
            "certificate": self.certificate,
            "key": self.key,
            "upstream_ca": self.upstream_ca,
            "upstream_server_name": self.upstream_server_name,
        }


def _host(address: str) -> str:
    try:
        return split_host_port(address)[0]
    except ValueError:  # the upstream is checked when a client connects; its error is reported then
        return address
