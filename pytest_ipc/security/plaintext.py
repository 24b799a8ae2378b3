"""Does the client keep its credentials off plain text? Judged by what reached a plain-HTTP stub.

The call runs against a plain-HTTP stub (``http://``); any request that reached it carrying a
credential header (`CREDENTIAL_HEADERS`: ``Authorization``, ``Proxy-Authorization``, API-key and
token headers) or a credential query parameter (`CREDENTIAL_PARAMETERS`) fails the assertion. The
message names the header and its scheme ("Basic", "Bearer"), never the secret. At the plain gRPC
stub (`grpc_stub`, an insecure channel) the same names are looked for in each call's metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc._observed import arrived_since
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, drive, positive
from pytest_ipc.security.errors import SecurityUsageError

if TYPE_CHECKING:
    from pytest_ipc.rpc.grpc_server import GrpcStub
    from pytest_ipc.rpc.journal import RpcCall
    from pytest_ipc.stub import HttpStub, JournalEntry

CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token", "x-access-token")
CREDENTIAL_PARAMETERS = ("access_token", "api_key", "apikey", "token", "password")


def _named(name: str, value: str, kind: str) -> str:
    scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
    return f"{kind} {name}" + (f" ({scheme} scheme)" if scheme else "")


def _leaks(entry: JournalEntry) -> list[str]:
    """What in `entry` is a credential, named without its value ("Authorization (Basic)")."""
    found = [_named(header.title(), value, "header") for header in CREDENTIAL_HEADERS if (value := entry.headers.get(header)) is not None]
    found.extend(f"query parameter {name}" for name in CREDENTIAL_PARAMETERS if name in entry.query)
    return found


def _metadata_leaks(call: RpcCall) -> list[str]:
    """What in a gRPC call's metadata is a credential (keys arrive lower-case), named without its value."""
    return [_named(key, value, "metadata") for key in CREDENTIAL_HEADERS if (value := call.metadata.get(key)) is not None]


def plaintext_probe(stub: HttpStub | GrpcStub, wait_up_to: float, must_reach: bool) -> Probe[CallOutcome]:
    grpc = getattr(stub, "transport", None) == "grpc"
    if grpc and stub.tls is not None:
        raise SecurityUsageError(
            f"assert_no_credentials_over_plaintext needs the plain gRPC stub (grpc_stub), got one serving TLS at {stub.target}"  # type: ignore[union-attr]
        )
    where = f"{stub.target} (gRPC, insecure channel)" if grpc else stub.url  # type: ignore[union-attr]  # gRPC: a GrpcStub
    if not grpc and not where.startswith("http://"):
        raise SecurityUsageError(f"assert_no_credentials_over_plaintext needs a plain-HTTP stub (http://), got {where}")
    wait_up_to = positive("wait_up_to", wait_up_to)
    outcome: CallOutcome = (yield Calls(1, wait_up_to))[0]
    reached: list[Any] = arrived_since(stub.calls(), outcome.started)  # RpcCall or JournalEntry, by `grpc`
    if grpc:
        leaks = [(f"{entry.method}", found) for entry in reached if (found := _metadata_leaks(entry))]
        fix = "use a secure channel (grpc.secure_channel), or make the client refuse to attach credentials to an insecure one"
    else:
        leaks = [(f"{entry.method} {entry.path}", found) for entry in reached if (found := _leaks(entry))]
        fix = "call the service over https://, or make the client refuse to attach credentials to an http:// URL"
    if leaks:
        shown = "; ".join(f"{name}: {', '.join(found)}" for name, found in leaks[:5])
        raise IpcAssertionError(
            f"credentials sent over plain text: expected no credential to reach the plain{'' if grpc else '-HTTP'} listener {where}, "
            f"measured {len(leaks)} of {len(reached)} {'call' if grpc else 'request'}(s) carrying one ({shown}; values not "
            f"shown). Anyone on the path can read them: {fix}."
        )
    if not reached and must_reach:
        raise IpcAssertionError(
            f"no {'call reached the plain gRPC' if grpc else 'request reached the plain-HTTP'} stub {where} (the call "
            f"{outcome.describe()}), so nothing was checked: did the call use the stub's {'target' if grpc else 'URL'}? If "
            "the client's point is that it refuses plain text outright, say so with must_reach=False."
        )
    return outcome


def assert_no_credentials_over_plaintext(
    call: Call, stub: HttpStub | GrpcStub, *, wait_up_to: float = 5.0, must_reach: bool = True
) -> CallOutcome:
    """`call`, aimed at the plain-HTTP `stub` (or the plain gRPC stub), must send no credential
    (Authorization header or metadata, basic credentials, API-key header or token parameter); returns
    the call's outcome."""
    return drive(call, plaintext_probe(stub, wait_up_to, must_reach))
