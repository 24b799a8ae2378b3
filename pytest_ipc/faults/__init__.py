"""One fault vocabulary, three layers that inject it.

Write a fault once (``faults.latency(0.2)``, ``faults.outage()``, ``faults.status(503)``) and inject
it where it makes sense::

    with faults.inject(faults.hang(), into=http_stub): ...                  # HTTP stub
    with faults.inject(faults.outage(), into=proxy): ...                     # fault proxy (TCP)
    with faults.inject(faults.read_timeout(), into=InProcess(base_url)): ... # respx (httpx only)

or let ``@pytest.mark.fault_matrix(faults=[...], layers=[...])`` run a test once per fault and layer
(see `pytest_ipc.fixtures.resilience`). A fault a layer cannot express raises `FaultNotSupported`,
naming the layers that can:

====================  =====  ====  =====  ==========================================================
fault                 respx  stub  proxy  what each layer does
====================  =====  ====  =====  ==========================================================
latency(s)             -     yes   yes    stub: Delay.fixed; proxy: latency toxic
hang()                 -     yes   yes    stub: Hang; proxy: timeout toxic of 0 (answer swallowed)
outage()              yes     -    yes    respx: httpx.ConnectError; proxy: disabled (refused)
reset()               yes    yes   yes    respx: httpx.ReadError; stub: RST; proxy: reset_peer
status(code)          yes    yes    -     a response with that status (and Retry-After)
fail_first(n, status) yes    yes    -     the first n requests get `status`, later ones pass
connect_timeout()     yes     -     -     httpx.ConnectTimeout
read_timeout()        yes     -     -     httpx.ReadTimeout (real read timeouts: hang())
bandwidth(kb_s)        -      -    yes    bandwidth toxic
malformed_response()  yes    yes    -     respx: RemoteProtocolError; stub: bad chunk header
dribble(s)             -     yes    -     stub: DribbleBody over s seconds
close_before_headers() -     yes    -     stub: status line, then close
empty_response()      yes    yes    -     respx: RemoteProtocolError; stub: close, no bytes
====================  =====  ====  =====  ==========================================================

respx faults never touch a socket, so they test how the client *handles* an error, not whether its
timeouts are set; the stub and proxy layers do real I/O and measure both.
"""

from .errors import FaultNotSupported
from .layers import LAYERS, check_supported, inject, layers_for, support_table
from .respx_layer import InProcess
from .vocabulary import (
    FAULTS,
    Bandwidth,
    CloseBeforeHeaders,
    ConnectTimeout,
    Dribble,
    EmptyResponse,
    FailFirst,
    Fault,
    Hang,
    Latency,
    MalformedResponse,
    Outage,
    ReadTimeout,
    Reset,
    Status,
    bandwidth,
    close_before_headers,
    connect_timeout,
    dribble,
    empty_response,
    fail_first,
    hang,
    latency,
    make,
    malformed_response,
    outage,
    read_timeout,
    reset,
    status,
)

__all__ = [
    "FAULTS",
    "LAYERS",
    "Bandwidth",
    "CloseBeforeHeaders",
    "ConnectTimeout",
    "Dribble",
    "EmptyResponse",
    "FailFirst",
    "Fault",
    "FaultNotSupported",
    "Hang",
    "InProcess",
    "Latency",
    "MalformedResponse",
    "Outage",
    "ReadTimeout",
    "Reset",
    "Status",
    "bandwidth",
    "check_supported",
    "close_before_headers",
    "connect_timeout",
    "dribble",
    "empty_response",
    "fail_first",
    "hang",
    "inject",
    "latency",
    "layers_for",
    "make",
    "malformed_response",
    "outage",
    "read_timeout",
    "reset",
    "status",
    "support_table",
]
