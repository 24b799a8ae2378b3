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

===========================  =====  ====  =====  ====  ======  ====  =======================================
fault                        respx  stub  proxy  grpc  thrift  dns   what each layer does
===========================  =====  ====  =====  ====  ======  ====  =======================================
latency(delay)               -      yes   yes    yes   yes     yes   stub, dns: sleeps (fixed, uniform, lognormal);
                                                                     proxy: latency toxic (fixed, or uniform
                                                                     as latency +- jitter)
hang()                       -      yes   yes    yes   yes     yes   stub: never answers; proxy: timeout
                                                                     toxic of 0; dns: the query is never
                                                                     answered (a resolver timeout)
outage()                     yes    -     yes    -     -       -     respx: httpx.ConnectError; proxy:
                                                                     listener disabled
reset()                      yes    yes   yes    -     yes     -     respx: httpx.ReadError; stub, thrift:
                                                                     RST; proxy: reset_peer
status(code)                 yes    yes   -      yes   yes     -     a response with that status
                                                                     (Retry-After, body); thrift: a
                                                                     TApplicationException
grpc_status(code)            -      -     -      yes   -       -     a status by name (details,
                                                                     grpc-retry-pushback-ms, after=n
                                                                     messages: a stream aborted midway)
thrift_error(kind)           -      -     -      -     yes     -     a TApplicationException of that type,
                                                                     or an exception the IDL declares
connect_timeout()            yes    -     -      -     -       -     httpx.ConnectTimeout
read_timeout()               yes    -     -      -     -       -     httpx.ReadTimeout (a real read
                                                                     timeout: hang())
bandwidth(rate)              -      yes   yes    -     -       -     stub: paces the answer; proxy:
                                                                     bandwidth toxic (whole kB/s)
malformed_response()         yes    yes   -      -     -       -     respx: RemoteProtocolError; stub: bad
                                                                     chunk header
empty_response()             yes    yes   -      -     yes     -     respx: RemoteProtocolError; stub,
                                                                     thrift: close, no bytes
close_before_headers()       yes    yes   -      -     -       -     respx: RemoteProtocolError; stub:
                                                                     status line, then close
random_bytes(size)           -      yes   -      -     -       -     stub: garbage bytes, then close
truncated(size)              -      yes   yes    -     -       -     stub: first size bytes, then close;
                                                                     proxy: limit_data
dribble(duration)            -      yes   -      -     -       -     stub: the answer in pieces about 10 ms
                                                                     apart
expired_certificate()        yes    yes   yes    yes   -       -     respx: the httpx error, ssl text; stub
                                                               -     (HTTPS), proxy (terminating TLS): an
                                                               -     expired certificate of the session CA
not_yet_valid_certificate()  yes    yes   yes    yes   -       -     stub, proxy: a certificate whose
                                                               -     validity has not begun
wrong_host(host)             yes    yes   yes    yes   -       -     stub, proxy: a valid certificate issued
                                                               -     for `host`
unknown_ca()                 yes    yes   yes    yes   -       -     stub, proxy: a certificate from a CA
                                                               -     the client does not trust
self_signed()                yes    yes   yes    yes   -       -     stub, proxy: a self-signed certificate
client_cert_required()       yes    yes   yes    yes   -       -     stub, proxy: mutual TLS for the block
client_cert_rejected()       yes    yes   yes    yes   -       -     stub, proxy: mutual TLS trusting a root
                                                               -     no client chains to
client_cert_expired()        yes    yes   yes    yes   -       -     stub, proxy: mutual TLS trusting the
                                                               -     client's root, expired
handshake_stall()            yes    -     yes    -     -       -     respx: httpx.ConnectTimeout; proxy:
                                                               -     swallows the ClientHello
handshake_reset()            yes    -     yes    -     -       -     respx: httpx.ConnectError; proxy: RST
                                                               -     on the ClientHello
old_protocol(version)        yes    yes   yes    yes   -       -     stub, proxy: speaks only TLS 1.0 (or
                                                               -     1.1) for the block
nxdomain()                   -      -     -      -     -       yes   dns: the answer's rcode is NXDOMAIN
servfail()                   -      -     -      -     -       yes   dns: the answer's rcode is SERVFAIL
records_changed(drop)        -      -     -      -     -       yes   dns: answers leave out the first
                                                                     `drop` addresses of each name
zero_ttl()                   -      -     -      -     -       yes   dns: answers carry TTL 0
===========================  =====  ====  =====  ====  ======  ====  =======================================

Every fault also takes ``probability=``, ``seed=`` and ``times=`` (``fail_first(n)`` is
``status(503, times=n)``). The proxy cannot express ``times`` or ``seed`` (a toxic acts per
connection, from its own random stream); ``probability`` becomes the toxic's toxicity, drawn per
connection rather than per request. A proxy that passes TLS through stalls or resets the
ClientHello only; the other TLS faults need a proxy that terminates TLS
(``create_proxy(..., tls=TlsTermination.issued_by(ipc_tls_ca))``), which performs them in its own
handshakes (a pass-through proxy refuses them with a usage error naming the layers that can).
respx faults never touch a socket, so they test how the client *handles* an error, not whether its
timeouts are set; the stub and proxy layers do real I/O. The grpc layer is the gRPC stub
(`grpc_stub`): latency and hang hold the call, ``status(503)`` answers the status gRPC maps that
HTTP status to (UNAVAILABLE; ``retry_after`` becomes the pushback), and
``grpc_status``/``abort_stream`` name any code; connection faults on gRPC go through a proxy in
front of the stub (``reset`` and ``outage`` cut or refuse HTTP/2 connections). The thrift layer is
the Thrift stub (`thrift_stub`), whose server owns its sockets: besides holding calls and failing
them (a failing status is a ``TApplicationException``, INTERNAL_ERROR unless ``thrift_error`` names
the type) it resets or closes the connection instead of answering (``reset``, ``empty_response``).
The dns layer is the test's name server (`ipc_dns`, extra ``discovery``): a timeout is ``hang()``, a
slow answer ``latency``, and the DNS faults (`DnsFault`) change the answer's rcode, records or TTL,
per query. The TLS faults count handshakes that hit them (the stub's SNI hook; the ClientHellos a
proxy passed through, TLS record 0x16, or that a terminating proxy's fault met), and the stub's
client-certificate and old-protocol faults, which change its TLS settings for the block, take
neither ``probability`` nor ``times``; a terminating proxy draws ``probability`` per connection. The
grpc layer performs the TLS faults on the gRPC stub's TLS listener (`grpc_tls_stub`) as the stub layer
does on the HTTPS stub.
"""

from pytest_ipc.faults.active import ActiveFault, inject, start
from pytest_ipc.faults.errors import FaultNeverFired, FaultNotSupported, FaultUsageError
from pytest_ipc.faults.layers import LAYERS, Injection, Layer, check_supported, layers_for, support_table
from pytest_ipc.faults.layers.proxy import FaultProofUnavailable
from pytest_ipc.faults.layers.respx import InProcess
from pytest_ipc.faults.vocabulary import (
    FAULTS,
    Bandwidth,
    ClientCertExpired,
    ClientCertRejected,
    ClientCertRequired,
    CloseBeforeHeaders,
    ConnectTimeout,
    DnsFault,
    Dribble,
    EmptyResponse,
    ExpiredCertificate,
    Fault,
    GrpcStatus,
    HandshakeReset,
    HandshakeStall,
    Hang,
    Latency,
    MalformedResponse,
    NotYetValidCertificate,
    NxDomain,
    OldProtocol,
    Outage,
    RandomBytes,
    ReadTimeout,
    RecordsChanged,
    Reset,
    SelfSigned,
    ServFail,
    Status,
    ThriftError,
    TlsFault,
    Truncated,
    UnknownCa,
    WrongHost,
    ZeroTtl,
    abort_stream,
    bandwidth,
    client_cert_expired,
    client_cert_rejected,
    client_cert_required,
    close_before_headers,
    connect_timeout,
    dribble,
    empty_response,
    expired_certificate,
    fail_first,
    grpc_status,
    handshake_reset,
    handshake_stall,
    hang,
    latency,
    make,
    malformed_response,
    not_yet_valid_certificate,
    nxdomain,
    old_protocol,
    outage,
    random_bytes,
    read_timeout,
    records_changed,
    reset,
    self_signed,
    servfail,
    status,
    thrift_error,
    truncated,
    unknown_ca,
    wrong_host,
    zero_ttl,
)

__all__ = [
    "FAULTS",
    "LAYERS",
    "ActiveFault",
    "Bandwidth",
    "ClientCertExpired",
    "ClientCertRejected",
    "ClientCertRequired",
    "CloseBeforeHeaders",
    "ConnectTimeout",
    "DnsFault",
    "Dribble",
    "EmptyResponse",
    "ExpiredCertificate",
    "Fault",
    "FaultNeverFired",
    "FaultNotSupported",
    "FaultProofUnavailable",
    "FaultUsageError",
    "GrpcStatus",
    "HandshakeReset",
    "HandshakeStall",
    "Hang",
    "InProcess",
    "Injection",
    "Latency",
    "Layer",
    "MalformedResponse",
    "NotYetValidCertificate",
    "NxDomain",
    "OldProtocol",
    "Outage",
    "RandomBytes",
    "ReadTimeout",
    "RecordsChanged",
    "Reset",
    "SelfSigned",
    "ServFail",
    "Status",
    "ThriftError",
    "TlsFault",
    "Truncated",
    "UnknownCa",
    "WrongHost",
    "ZeroTtl",
    "abort_stream",
    "bandwidth",
    "check_supported",
    "client_cert_expired",
    "client_cert_rejected",
    "client_cert_required",
    "close_before_headers",
    "connect_timeout",
    "dribble",
    "empty_response",
    "expired_certificate",
    "fail_first",
    "grpc_status",
    "handshake_reset",
    "handshake_stall",
    "hang",
    "inject",
    "latency",
    "layers_for",
    "make",
    "malformed_response",
    "not_yet_valid_certificate",
    "nxdomain",
    "old_protocol",
    "outage",
    "random_bytes",
    "read_timeout",
    "records_changed",
    "reset",
    "self_signed",
    "servfail",
    "start",
    "status",
    "support_table",
    "thrift_error",
    "truncated",
    "unknown_ca",
    "wrong_host",
    "zero_ttl",
]
