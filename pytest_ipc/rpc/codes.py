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

# Thrift's TApplicationException types by name, and the status each stands for (in the journal, and when a
# failing status is sent by a Thrift stub: `THRIFT_ERROR_FOR` picks the type, INTERNAL_ERROR by default).
THRIFT_ERRORS: dict[str, str] = {"UNKNOWN": "UNKNOWN", "UNKNOWN_METHOD": "UNIMPLEMENTED", "INVALID_MESSAGE_TYPE": "INTERNAL",
                                 "WRONG_METHOD_NAME": "INTERNAL", "BAD_SEQUENCE_ID": "INTERNAL", "MISSING_RESULT": "INTERNAL",
                                 "INTERNAL_ERROR": "INTERNAL", "PROTOCOL_ERROR": "INVALID_ARGUMENT"}  # fmt: skip
THRIFT_ERROR_FOR: dict[str, str] = {"UNKNOWN": "UNKNOWN", "UNIMPLEMENTED": "UNKNOWN_METHOD", "INVALID_ARGUMENT": "PROTOCOL_ERROR"}
THRIFT_ERROR_KEY = "thrift-application-error"  # trailing metadata of a reply: the TApplicationException type a Thrift stub sends

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
