"""Does the client verify the server, and present itself when asked? Judged at an HTTPS stub, or at
the gRPC stub's TLS listener (`grpc_tls_stub`), where the same faults act on the same handshakes.

`assert_verifies_server` serves, in turn, a certificate from an unknown CA and a valid one for
another host name (`faults.unknown_ca()`, `faults.wrong_host()`): a verifying client fails each
handshake and no request reaches the stub. That catches ``verify=False``, ``ssl.CERT_NONE`` and
``check_hostname=False``. A last call against the stub's valid certificate must succeed (a client
that refuses every server proves nothing). `assert_presents_client_certificate` makes the stub require a client
certificate from the session CA (`faults.client_cert_required()`): the client's call must succeed.
Both count the handshakes that hit the fault, so a call that never reached the stub proves nothing
and fails.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc._observed import arrived_since
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, drive, positive
from pytest_ipc.security.errors import SecurityUsageError

if TYPE_CHECKING:
    from typing import TypeAlias

    from pytest_ipc.rpc.grpc_server import GrpcStub
    from pytest_ipc.stub import HttpStub

    TlsStub: TypeAlias = HttpStub | GrpcStub

# ssl and the HTTP clients; grpc-core: "Hostname Verification Check failed", formerly "Peer name ... is not in peer certificate"
VERIFY_FAILED = (
    "certificate verify failed",
    "CERTIFICATE_VERIFY_FAILED",
    "Hostname mismatch",
    "Hostname Verification Check failed",
    "is not in peer certificate",
)
# What a client that skips each check gets wrong, for the message.
SKIPPED = {
    "unknown_ca": "it does not verify the server's certificate chain (verify=False, ssl.CERT_NONE, or a trust store that "
    "accepts any CA): trust only your CA bundle and keep verification on",
    "wrong_host": "it verifies the chain but not the host name (check_hostname=False, or a custom verifier "
    "that skips it): keep host-name checking on",
}
SKIPPED_GRPC = {
    "unknown_ca": "it does not verify the server's certificate chain against your CA (root_certificates taken from the "
    "server it connects to, or a bundle holding other CAs): give grpc.ssl_channel_credentials only your CA bundle",
    "wrong_host": "it verifies the chain but not the host name (grpc.ssl_target_name_override set to a fixed name, or to "
    "the name the server's certificate shows): drop the override, or set it only to the name your service's certificate "
    "is issued for",
}


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and what it wraps: causes, contexts, and exceptions carried in args (requests, urllib3)."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(item for item in (current.__cause__, current.__context__, *current.args) if isinstance(item, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)


def is_verification_failure(error: BaseException) -> bool:
    """Whether `error` (as a client library raised it) is a failed certificate verification."""
    return any(isinstance(item, ssl.SSLCertVerificationError) or any(text in str(item) for text in VERIFY_FAILED) for item in _chain(error))


def _is_grpc(stub: TlsStub) -> bool:
    return getattr(stub, "transport", None) == "grpc"


def _where(stub: TlsStub) -> str:
    """What the client should call, for messages."""
    from pytest_ipc.faults.layers.stub_tls import where

    return where(stub)


def _check_https(stub: TlsStub) -> None:
    if _is_grpc(stub):
        if stub.tls is None:
            raise SecurityUsageError(
                f"this assertion needs the gRPC stub serving TLS (the grpc_tls_stub fixture), got the plain one at {_where(stub)}"
            )
        return
    url: str = stub.url  # type: ignore[union-attr]  # not gRPC: an HttpStub
    if not url.startswith("https://"):
        raise SecurityUsageError(f"this assertion needs the stub in HTTPS mode (an https:// URL), got {url}")


def verification_probe(stub: TlsStub, wait_up_to: float) -> Probe[list[CallOutcome]]:
    _check_https(stub)
    skipped = SKIPPED_GRPC if _is_grpc(stub) else SKIPPED
    fresh = "a new channel per call" if _is_grpc(stub) else "a fresh one"
    wait_up_to = positive("wait_up_to", wait_up_to)
    outcomes = []
    for fault in (faults.unknown_ca(), faults.wrong_host()):
        started = time.monotonic()
        with faults.inject(fault, into=stub, must_fire=False) as active:
            outcome: CallOutcome = (yield Calls(1, wait_up_to))[0]
            handshakes = active.activations()
        reached = arrived_since(stub.calls(), started)
        if reached and not handshakes:
            raise IpcAssertionError(
                f"nothing was checked: the call reached the stub while it presented {fault.describe()} without a new TLS "
                "handshake (it reused a connection kept alive from before). Call assert_verifies_server with a client "
                f"that has no open connection to the stub ({fresh}), or close its pool first."
            )
        if (outcome.error is None and outcome.finished) or reached:
            raise IpcAssertionError(
                f"server not verified: expected the handshake to fail when the stub presented {fault.describe()}, measured "
                f"{len(reached)} request(s) reaching the stub (the call {outcome.describe()}). The client accepts a forged "
                f"server: {skipped[fault.name]}."
            )
        if not handshakes:
            raise IpcAssertionError(
                f"no TLS handshake reached the stub while it presented {fault.describe()} (the call {outcome.describe()}), "
                f"so nothing was checked: did the call use the stub's address ({_where(stub)})?"
            )
        if outcome.error is not None and not is_verification_failure(outcome.error):
            raise IpcAssertionError(
                f"expected the call to fail certificate verification against {fault.describe()}, but it failed otherwise: "
                f"it {outcome.describe()}. Does the client set a connect timeout long enough for a handshake?"
            )
        outcomes.append(outcome)
    started = time.monotonic()
    control: CallOutcome = (yield Calls(1, wait_up_to))[0]  # last: a kept-alive connection would skip the handshake
    reached = arrived_since(stub.calls(), started)
    if control.error is not None or not control.finished or not reached:
        raise IpcAssertionError(
            f"expected the call to succeed against the stub's valid certificate (after the faults), but it {control.describe()} "
            f"and reached the stub {len(reached)} time(s): a client that refuses "
            f"every server proves nothing. Does it call the stub's address ({_where(stub)}) and trust its CA (ipc_tls_ca.bundle_path)?"
        )
    return outcomes


def client_certificate_probe(stub: TlsStub, wait_up_to: float) -> Probe[CallOutcome]:
    _check_https(stub)
    wait_up_to = positive("wait_up_to", wait_up_to)
    started = time.monotonic()
    with faults.inject(faults.client_cert_required(), into=stub, must_fire=False) as active:
        outcome: CallOutcome = (yield Calls(1, wait_up_to))[0]
        handshakes = active.activations()
    reached = arrived_since(stub.calls(), started)
    if reached and not handshakes:
        raise IpcAssertionError(
            "nothing was checked: the call reached the stub without a new TLS handshake (it reused a connection kept "
            "alive from before). Give assert_presents_client_certificate a client with no connection open to the stub."
        )
    if not handshakes:
        raise IpcAssertionError(
            f"no TLS handshake reached the stub while it required a client certificate (the call {outcome.describe()}), "
            f"so nothing was checked: did the call use the stub's address ({_where(stub)})?"
        )
    if outcome.error is not None or not reached:
        how = (
            "grpc: grpc.ssl_channel_credentials(root_certificates=..., private_key=key, certificate_chain=cert)"
            if _is_grpc(stub)
            else "httpx/requests: cert=(cert, key); ssl: context.load_cert_chain"
        )
        raise IpcAssertionError(
            "client certificate not presented: expected the call to succeed against a stub that requires a client "
            f"certificate from the session CA, measured {len(reached)} request(s) reaching it; the call {outcome.describe()}. "
            f"Load the client's certificate and key into its TLS context ({how})."
        )
    return outcome


def assert_verifies_server(call: Call, stub: HttpStub | GrpcStub, *, wait_up_to: float = 5.0) -> list[CallOutcome]:
    """`call`, aimed at the HTTPS `stub` (or the gRPC stub serving TLS), must fail the handshake against an unknown-CA certificate and
    a wrong-host one with no request reaching the stub, then succeed against the stub's valid
    certificate; returns the two failed outcomes. Give it a client with no connection open to the stub."""
    return drive(call, verification_probe(stub, wait_up_to))


def assert_presents_client_certificate(call: Call, stub: HttpStub | GrpcStub, *, wait_up_to: float = 5.0) -> CallOutcome:
    """`call`, aimed at the HTTPS `stub` (or the gRPC stub serving TLS) while it requires a client certificate (mTLS), must succeed."""
    return drive(call, client_certificate_probe(stub, wait_up_to))
