"""RPC status codes by name: the one list the RPC stubs, their faults and assertions check names against.

The names are gRPC's (`grpc.StatusCode` member names); they double as the transport-independent
vocabulary of how an RPC ended, so a second transport maps its own errors onto them. Plain strings,
so nothing here imports grpc. `HTTP_TO_CODE` is gRPC's own mapping of HTTP statuses
(doc/http-grpc-status-mapping.md), which lets an HTTP `faults.status(503)` mean UNAVAILABLE at an RPC
stub, so one fault matrix and the resilience assertions' defaults serve both.
"""

from __future__ import annotations

from pytest_ipc.rpc.errors import RpcUsageError

CODES: tuple[str, ...] = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)  # fmt: skip

HTTP_TO_CODE: dict[int, str] = {400: "INTERNAL", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "UNIMPLEMENTED",
                                429: "UNAVAILABLE", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "UNAVAILABLE"}  # fmt: skip

PUSHBACK_KEY = "grpc-retry-pushback-ms"  # trailing metadata: when the client may retry, in milliseconds (the wire unit)


def check_code(code: object, what: str = "code") -> str:
    """`code` as a status name (case-insensitive, `grpc.StatusCode` members too); else the valid names."""
    name = getattr(code, "name", code)
    if isinstance(name, str) and name.upper() in CODES:
        return name.upper()
    raise RpcUsageError(f"{what} {code!r} is not a status code; valid names: {', '.join(CODES)}")


def code_for_http(status: int) -> str:
    """The status name an HTTP status stands for (gRPC's mapping; any other status is UNKNOWN)."""
    return HTTP_TO_CODE.get(status, "UNKNOWN")
