"""`AlertingTlsProtocol`: asyncio's TLS server protocol, except that a failed handshake sends its alert.

asyncio drops the alert OpenSSL wrote when a server-side handshake fails, and closes the socket.
Under TLS 1.3 the client's handshake has already ended when the server checks its certificate, so
a client refused for a missing or bad certificate then reads a bare disconnect instead of what a
real server (nginx, Go, OpenSSL's own) sends it: "tlsv13 alert certificate required", "unknown ca".
This protocol writes the alert before closing; owner of how pytest-ipc's servers speak TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from asyncio import sslproto


class AlertingTlsProtocol(sslproto.SSLProtocol):
    """Server-side TLS around `app` that flushes the handshake's alert before failing."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app: asyncio.Protocol, context: ssl.SSLContext) -> None:
        # no waiter: nobody awaits the handshake (a failed one is the client's news, not the server's)
        super().__init__(loop, app, context, None, server_side=True)  # type: ignore[arg-type]

    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None:
            with contextlib.suppress(Exception):  # the socket may already be gone: then there is no one to tell
                self._process_outgoing()  # type: ignore[attr-defined]  # asyncio's (3.11+) own flush of the TLS bytes
        super()._on_handshake_complete(handshake_exc)
