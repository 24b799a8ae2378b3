"""The Thrift stub: a real thriftpy2-speaking server for an IDL service, on loopback.

Pieces: `wire` (binary/compact protocols over buffered/framed transports, and telling which one a
client speaks), `idl` (the service loaded from an IDL file or module, and the codecs), `server`
(sockets and threads; it performs what its dispatcher decides). Needs the `thrift` extra.
"""

from pytest_ipc._optional import require

require("thriftpy2", extra="thrift", feature="the Thrift stub")
