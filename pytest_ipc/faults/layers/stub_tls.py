"""How the HTTPS stub performs the TLS faults: per handshake, through its context's SNI hook.

OpenSSL calls the server context's servername callback on every ClientHello (with or without
SNI), so the hook is where a fault counts its activations (handshakes that hit it) and where a
certificate fault swaps the connection's context for one presenting the bad certificate (issued by
the stub's own CA, `HttpStub.tls_authority`; `layers.handshake` says what each fault presents).
Protocol settings (a required client certificate, an old version) are decided before that hook,
so those faults change the stub's context for the block instead, on every handshake, and are
restored after it; the hook then swaps in the client CA a refused certificate fails against
(another root, or the client's own root expired). An old-protocol handshake fails in
version negotiation, before the SNI hook: it is counted by CPython's TLS message hook
(`SSLContext._msg_callback`, the one behind `ssl`'s debug tracing) seeing the ClientHello.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_ipc.faults import vocabulary as v
from pytest_ipc.faults.errors import FaultUsageError
from pytest_ipc.faults.layers.handshake import plan_for

if TYPE_CHECKING:
    from typing import TypeAlias

    from pytest_ipc.rpc.grpc_server import GrpcStub
    from pytest_ipc.stub import HttpStub
    from pytest_ipc.tls import CertificateAuthority

    TlsStub: TypeAlias = HttpStub | GrpcStub

SniCallback = Callable[[ssl.SSLObject, str | None, ssl.SSLContext], int | None]
# Faults that change the stub's whole context: every handshake while in place, no probability or times.
CLIENT_CERTIFICATE = (v.ClientCertRequired, v.ClientCertRejected, v.ClientCertExpired)
WHOLE_CONTEXT = (*CLIENT_CERTIFICATE, v.OldProtocol)


def why_not(fault: v.TlsFault) -> str | None:
    """Why the HTTPS stub cannot perform `fault`, or None."""
    if isinstance(fault, (v.HandshakeStall, v.HandshakeReset)):
        return "asyncio runs the stub's handshake to the end or an alert; a stalled or reset handshake is the proxy's"
    if isinstance(fault, WHOLE_CONTEXT) and (fault.probability < 1.0 or fault.times is not None):
        return "it changes the stub's TLS settings for every handshake while in place; it cannot skip one (probability=, times=)"
    return None


def _bad_context(fault: v.TlsFault, authority: CertificateAuthority) -> ssl.SSLContext | None:
    """The context a hit handshake switches to (presenting the bad certificate), or None."""
    from pytest_ipc.tls.contexts import server_context  # here: trustme comes with an HTTPS stub, not with the faults

    plan = plan_for(fault, authority)
    if plan.certificate is None and plan.client_ca is None:
        return None  # an old protocol: the stub's own context changes instead
    certificate = plan.certificate or authority.server_certificate()
    return server_context(certificate, client_ca=plan.client_ca, require_client_certificate=plan.client_ca is not None)


def where(stub: TlsStub) -> str:
    """What a client of `stub` connects to, for messages: the HTTPS stub's URL, the gRPC stub's target."""
    url: str | None = getattr(stub, "url", None)
    target: str = getattr(stub, "target", "")
    return url if url is not None else f"{target} (gRPC{' over TLS' if stub.tls is not None else ', plain'})"


class StubTlsInjection:
    """A TLS fault in place on a stub serving TLS (HTTPS, or gRPC's TLS listener); its trigger counts
    the handshakes it acted on."""

    deferred = False

    def __init__(self, fault: v.TlsFault, stub: TlsStub) -> None:
        context, authority = stub.tls, stub.tls_authority
        if context is None or authority is None:
            serving, fixture = ("HTTPS", "https_stub") if hasattr(stub, "url") else ("TLS", "grpc_tls_stub")
            raise FaultUsageError(
                f"{fault.describe()} needs the stub serving {serving} with a certificate from the session CA (the {fixture} "
                f"fixture); {where(stub)} has {'no TLS' if context is None else 'no tls_authority to issue the bad certificate'}"
            )
        self.stub, self.context, self.fault = stub, context, fault
        self.trigger = v.Trigger(fault)
        self.bad = _bad_context(fault, authority)
        alpn: tuple[str, ...] = getattr(stub, "tls_alpn", ())
        if self.bad is not None and alpn:  # the context a hit handshake switches to must still select the protocol
            self.bad.set_alpn_protocols(list(alpn))
        self.previous: SniCallback | None = context.sni_callback  # type: ignore[assignment]  # typeshed's callback is looser
        self.saved = (context.verify_mode, context.minimum_version, context.maximum_version, [c["name"] for c in context.get_ciphers()])
        if isinstance(fault, CLIENT_CERTIFICATE):
            context.verify_mode = ssl.CERT_REQUIRED
        if isinstance(fault, v.OldProtocol):
            from pytest_ipc.tls.contexts import VERSIONS, pin_version

            pin_version(context, VERSIONS[fault.version])
        context.sni_callback = self._hello
        if isinstance(fault, v.OldProtocol):
            context._msg_callback = self._message  # type: ignore[attr-defined]  # CPython's private TLS message hook
        self._removed = False

    def _message(self, connection: object, direction: str, version: object, content_type: object, message: object, data: bytes) -> None:
        if direction == "read" and message == ssl._TLSMessageType.CLIENT_HELLO:  # type: ignore[attr-defined]
            self.trigger.fires()

    def _hello(self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        if self.trigger.fires() and self.bad is not None:
            connection.context = self.bad

    def activations(self) -> int:
        return self.trigger.fired

    def never_fired(self) -> str:
        if self.trigger.seen:
            return f"{self.trigger.seen} TLS handshake(s) reached the stub and the fault's firing rules let every one through"
        url: str | None = getattr(self.stub, "url", None)
        call = f"its https:// URL (here {url})" if url is not None else f"its target (here {where(self.stub)})"
        return f"no TLS handshake reached the stub during the block: did the client call {call}?"

    def remove(self) -> None:
        if self._removed:
            return
        self._removed = True
        verify_mode, minimum, maximum, ciphers = self.saved
        self.context.sni_callback = self.previous
        self.context.verify_mode = verify_mode
        if isinstance(self.fault, v.OldProtocol):
            self.context._msg_callback = None  # type: ignore[attr-defined]
            self.context.set_ciphers(":".join(ciphers))
            self.context.minimum_version, self.context.maximum_version = minimum, maximum
