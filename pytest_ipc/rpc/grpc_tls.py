"""`TlsFront`: the gRPC stub's TLS listener, in Python's `ssl` in front of grpcio's plain port.

grpcio's own TLS (BoringSSL in its C core) fixes a port's client-certificate policy when the port
is added and offers no per-handshake hook but a certificate fetcher, so it cannot require a client
certificate for one block of a test, nor count the handshakes a fault hit. The front terminates
TLS with an `ssl.SSLContext` (the session CA's, ALPN "h2" as gRPC clients demand) and relays the
HTTP/2 bytes to the stub's loopback plain port (`pytest_ipc._relay`): the TLS faults then act on it
exactly as on the HTTPS stub (`pytest_ipc.faults.layers.stub_tls`), a refused client reads the TLS
alert a real server sends, and everything after the handshake is grpcio's.
"""

from __future__ import annotations

import ssl

from pytest_ipc._relay import Relay

#: What gRPC clients require the server to select in ALPN (grpc-core refuses a TLS peer without it).
ALPN = ["h2"]


class TlsFront(Relay):
    """A TLS listener on `host` (port chosen by the OS) relaying to the plain gRPC port `upstream`.

    `context` is served as is (the TLS faults change it for a block); ALPN "h2" is set on it.
    """

    def __init__(self, host: str, upstream: tuple[str, int], context: ssl.SSLContext) -> None:
        context.set_alpn_protocols(ALPN)
        super().__init__(host, upstream, tls=context, name="pytest-ipc-grpc-tls")

    def start(self) -> TlsFront:
        super().start()
        return self
