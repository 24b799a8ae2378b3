"""Does the client keep its credentials off plain text? Judged by what reached a plain-HTTP stub.

The call runs against a plain-HTTP stub (``http://``); any request that reached it carrying a
credential header (`CREDENTIAL_HEADERS`: ``Authorization``, ``Proxy-Authorization``, API-key and
token headers) or a credential query parameter (`CREDENTIAL_PARAMETERS`) fails the assertion. The
message names the header and its scheme ("Basic", "Bearer"), never the secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, drive, positive
from pytest_ipc.security.errors import SecurityUsageError

if TYPE_CHECKING:
    from pytest_ipc.stub import HttpStub, JournalEntry

CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token", "x-access-token")
CREDENTIAL_PARAMETERS = ("access_token", "api_key", "apikey", "token", "password")


def _leaks(entry: JournalEntry) -> list[str]:
    """What in `entry` is a credential, named without its value ("Authorization (Basic)")."""
    found = []
    for header in CREDENTIAL_HEADERS:
        value = entry.headers.get(header)
        if value is not None:
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            found.append(f"header {header.title()}" + (f" ({scheme} scheme)" if scheme else ""))
    found.extend(f"query parameter {name}" for name in CREDENTIAL_PARAMETERS if name in entry.query)
    return found


def plaintext_probe(stub: HttpStub, wait_up_to: float, must_reach: bool) -> Probe[CallOutcome]:
    if not stub.url.startswith("http://"):
        raise SecurityUsageError(f"assert_no_credentials_over_plaintext needs a plain-HTTP stub (http://), got {stub.url}")
    wait_up_to = positive("wait_up_to", wait_up_to)
    outcome: CallOutcome = (yield Calls(1, wait_up_to))[0]
    reached = [entry for entry in stub.calls() if entry.started >= outcome.started - 0.001]
    leaks = [(entry, found) for entry in reached if (found := _leaks(entry))]
    if leaks:
        shown = "; ".join(f"{entry.method} {entry.path}: {', '.join(found)}" for entry, found in leaks[:5])
        raise IpcAssertionError(
            f"credentials sent over plain text: expected no credential to reach the plain-HTTP listener {stub.url}, "
            f"measured {len(leaks)} of {len(reached)} request(s) carrying one ({shown}; values not shown). Anyone on "
            "the path can read them: call the service over https://, or make the client refuse to attach credentials "
            "to an http:// URL."
        )
    if not reached and must_reach:
        raise IpcAssertionError(
            f"no request reached the plain-HTTP stub {stub.url} (the call {outcome.describe()}), so nothing was checked: "
            "did the call use the stub's URL? If the client's point is that it refuses http:// outright, say so with "
            "must_reach=False."
        )
    return outcome


def assert_no_credentials_over_plaintext(call: Call, stub: HttpStub, *, wait_up_to: float = 5.0, must_reach: bool = True) -> CallOutcome:
    """`call`, aimed at the plain-HTTP `stub`, must send no credential (Authorization header, basic
    credentials, API-key header or token parameter); returns the call's outcome."""
    return drive(call, plaintext_probe(stub, wait_up_to, must_reach))
