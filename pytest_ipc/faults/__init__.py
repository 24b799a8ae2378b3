"""One fault vocabulary, injected at whichever layer you choose, proven to have fired.

Write a fault once (``faults.latency(0.2)``, ``faults.outage()``, ``faults.status(503)``) and inject
it where it makes sense::

    with faults.inject(faults.hang(), into=http_stub): ...                  # HTTP stub
    with faults.inject(faults.outage(), into=proxy): ...                     # fault proxy (TCP)
    with faults.inject(faults.read_timeout(), into=InProcess(base_url)): ... # respx (httpx only)

or let ``@pytest.mark.fault_matrix(faults=[...], layers=[...])`` run a test once per fault and layer
(see `pytest_ipc.fixtures.resilience`). A fault a layer cannot express raises `FaultNotSupported`,
naming the layers that can; a fault that never fired during the block fails it with
`FaultNeverFired`, naming the likely cause (opt out with ``must_fire=False``).

======================  =====  ====  =====  ====  ======  ============================================
fault                   respx  stub  proxy  grpc  thrift  what each layer does
======================  =====  ====  =====  ====  ======  ============================================
latency(delay)          -      yes   yes    yes   yes     stub: sleeps (fixed, uniform, lognormal);
                                                          proxy: latency toxic (fixed, or uniform as
                                                          latency +- jitter)
hang()                  -      yes   yes    yes   yes     stub: never answers; proxy: timeout toxic of 0
outage()                yes    -     yes    -     -       respx: httpx.ConnectError; proxy: listener
                                                          disabled
reset()                 yes    yes   yes    -     yes     respx: httpx.ReadError; stub, thrift: RST;
                                                          proxy: reset_peer
status(code)            yes    yes   -      yes   yes     a response with that status (Retry-After,
                                                          body); thrift: a TApplicationException
grpc_status(code)       -      -     -      yes   -       a status by name (details, grpc-retry-pushback-ms,
                                                          after=n messages: a stream aborted midway)
thrift_error(kind)      -      -     -      -     yes     a TApplicationException of that type, or an
                                                          exception the IDL declares
connect_timeout()       yes    -     -      -     -       httpx.ConnectTimeout
read_timeout()          yes    -     -      -     -       httpx.ReadTimeout (a real read timeout: hang())
bandwidth(rate)         -      yes   yes    -     -       stub: paces the answer; proxy: bandwidth toxic
                                                          (whole kB/s)
malformed_response()    yes    yes   -      -     -       respx: RemoteProtocolError; stub: bad chunk
                                                          header
empty_response()        yes    yes   -      -     yes     respx: RemoteProtocolError; stub, thrift:
                                                          close, no bytes
close_before_headers()  yes    yes   -      -     -       respx: RemoteProtocolError; stub: status line,
                                                          then close
random_bytes(size)      -      yes   -      -     -       stub: garbage bytes, then close
truncated(size)         -      yes   yes    -     -       stub: first size bytes, then close; proxy:
                                                          limit_data
dribble(duration)       -      yes   -      -     -       stub: the answer in pieces about 10 ms apart
======================  =====  ====  =====  ====  ======  ============================================

Every fault also takes ``probability=``, ``seed=`` and ``times=`` (``fail_first(n)`` is
``status(503, times=n)``). The proxy cannot express ``times`` or ``seed`` (a toxic acts per
connection, from its own random stream); ``probability`` becomes the toxic's toxicity, drawn per
connection rather than per request. respx faults never touch a socket, so they test how the client
*handles* an error, not whether its timeouts are set; the stub and proxy layers do real I/O. The
grpc layer is the gRPC stub (`grpc_stub`): latency and hang hold the call, ``status(503)`` answers the
status gRPC maps that HTTP status to (UNAVAILABLE; ``retry_after`` becomes the pushback), and
``grpc_status``/``abort_stream`` name any code; connection faults on gRPC go through a proxy in front
of the stub (``reset`` and ``outage`` cut or refuse HTTP/2 connections). The thrift layer is the Thrift
stub (`thrift_stub`), whose server owns its sockets: besides holding calls and failing them (a failing
status is a ``TApplicationException``, INTERNAL_ERROR unless ``thrift_error`` names the type) it resets
or closes the connection instead of answering (``reset``, ``empty_response``).
"""

from pytest_ipc.faults.active import ActiveFault, inject, start
from pytest_ipc.faults.errors import FaultNeverFired, FaultNotSupported, FaultUsageError
from pytest_ipc.faults.layers import LAYERS, Injection, Layer, check_supported, layers_for, support_table
from pytest_ipc.faults.layers.proxy import FaultProofUnavailable
from pytest_ipc.faults.layers.respx import InProcess
from pytest_ipc.faults.vocabulary import (
    FAULTS,
    Bandwidth,
    CloseBeforeHeaders,
    ConnectTimeout,
    Dribble,
    EmptyResponse,
    Fault,
    GrpcStatus,
    Hang,
    Latency,
    MalformedResponse,
    Outage,
    RandomBytes,
    ReadTimeout,
    Reset,
    Status,
    ThriftError,
    Truncated,
    abort_stream,
    bandwidth,
    close_before_headers,
    connect_timeout,
    dribble,
    empty_response,
    fail_first,
    grpc_status,
    hang,
    latency,
    make,
    malformed_response,
    outage,
    random_bytes,
    read_timeout,
    reset,
    status,
    thrift_error,
    truncated,
)

__all__ = [
    "FAULTS",
    "LAYERS",
    "ActiveFault",
    "Bandwidth",
    "CloseBeforeHeaders",
    "ConnectTimeout",
    "Dribble",
    "EmptyResponse",
    "Fault",
    "FaultNeverFired",
    "FaultNotSupported",
    "FaultProofUnavailable",
    "FaultUsageError",
    "GrpcStatus",
    "Hang",
    "InProcess",
    "Injection",
    "Latency",
    "Layer",
    "MalformedResponse",
    "Outage",
    "RandomBytes",
    "ReadTimeout",
    "Reset",
    "Status",
    "ThriftError",
    "Truncated",
    "abort_stream",
    "bandwidth",
    "check_supported",
    "close_before_headers",
    "connect_timeout",
    "dribble",
    "empty_response",
    "fail_first",
    "grpc_status",
    "hang",
    "inject",
    "latency",
    "layers_for",
    "make",
    "malformed_response",
    "outage",
    "random_bytes",
    "read_timeout",
    "reset",
    "start",
    "status",
    "support_table",
    "thrift_error",
    "truncated",
]
