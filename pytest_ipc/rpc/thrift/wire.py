"""How Thrift bytes travel: the protocols (binary, compact) and transports (buffered, framed) the stub
speaks, and which of them a client's first bytes show it speaks.

The two are chosen per stub, as on a real server: a client that speaks another pair is refused (its
connection closed, as a real server's decoder would fail) and named in the stub's report, since a
client configured with the wrong factory is a defect of the client, not of the test. Telling the
pairs apart needs five bytes: a strict binary message starts 0x80 0x01, a compact one 0x82, and a
frame is a big-endian length followed by one of those.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, Literal

import thriftpy2.protocol
import thriftpy2.transport
from thriftpy2.protocol import binary, compact
from thriftpy2.transport import memory
from thriftpy2.transport.base import TTransportBase, TTransportException

from pytest_ipc.rpc.thrift.errors import ThriftUsageError

Protocol = Literal["binary", "compact"]
Transport = Literal["buffered", "framed"]
PROTOCOLS: tuple[Protocol, ...] = ("binary", "compact")
TRANSPORTS: tuple[Transport, ...] = ("buffered", "framed")
MAX_FRAME = 16 * 1024 * 1024  # bytes; Apache Thrift's default frame limit
FRAME_HEADER = struct.Struct("!i")
READ_SIZE = 65536
# thriftpy2's pure-Python protocols and buffer read any transport, so they decode a buffered stream
# exactly to a message's end; whole messages (a frame, an answer) go through the Cython binary protocol
# where thriftpy2 has it (it reads only its own buffers). Untyped in thriftpy2, hence Any.
TBinaryProtocol: Any = binary.TBinaryProtocol
TCompactProtocol: Any = compact.TCompactProtocol
TMemoryBuffer: Any = memory.TMemoryBuffer
FastBinaryProtocol: Any = thriftpy2.protocol.TCyBinaryProtocol
FastMemoryBuffer: Any = thriftpy2.transport.TCyMemoryBuffer
_FIRST_BYTE: dict[int, Protocol] = {0x80: "binary", 0x82: "compact"}
_FACTORIES = {
    "binary": "TBinaryProtocolFactory",
    "compact": "TCompactProtocolFactory",
    "buffered": "TBufferedTransportFactory",
    "framed": "TFramedTransportFactory",
}


@dataclass(frozen=True)
class Wire:
    """A protocol over a transport: what one stub speaks, or what a client was heard speaking."""

    protocol: Protocol = "binary"
    transport: Transport = "buffered"

    def __str__(self) -> str:
        return f"{self.protocol} protocol over {self.transport} transport"

    def factories(self) -> str:
        """The thriftpy2 factories a client passes to speak this wire (`make_client(proto_factory=..., trans_factory=...)`)."""
        return f"proto_factory={_FACTORIES[self.protocol]}(), trans_factory={_FACTORIES[self.transport]}()"

    def protocol_on(self, transport: TTransportBase) -> Any:
        """A thriftpy2 protocol of this kind reading and writing `transport` (any transport)."""
        return TBinaryProtocol(transport) if self.protocol == "binary" else TCompactProtocol(transport)

    def protocol_in_memory(self, data: bytes | None = None) -> tuple[Any, Any]:
        """(protocol, buffer) over bytes in memory: reading `data`, or writing when None."""
        if self.protocol == "binary":
            buffer = FastMemoryBuffer() if data is None else FastMemoryBuffer(data)
            return FastBinaryProtocol(buffer), buffer
        buffer = TMemoryBuffer() if data is None else TMemoryBuffer(data)
        return TCompactProtocol(buffer), buffer

    def encode(self, write: Any) -> bytes:
        """The bytes of one message, written by `write(protocol)`, framed when the transport is."""
        protocol, buffer = self.protocol_in_memory()
        write(protocol)
        payload: bytes = buffer.getvalue()
        return FRAME_HEADER.pack(len(payload)) + payload if self.transport == "framed" else payload


def check_wire(protocol: object, transport: object) -> Wire:
    """A `Wire` from user input; anything else names the choices."""
    if protocol not in PROTOCOLS:
        raise ThriftUsageError(f"unknown Thrift protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    if transport not in TRANSPORTS:
        raise ThriftUsageError(f"unknown Thrift transport {transport!r}; choose one of: {', '.join(TRANSPORTS)}")
    return Wire(protocol, transport)


def heard(head: bytes) -> Wire | str:
    """The wire the first five bytes of a connection show, or what they look like instead."""
    first = _FIRST_BYTE.get(head[0]) if head else None
    if first is not None:
        return Wire(first, "buffered")
    if len(head) >= 5:
        (length,) = FRAME_HEADER.unpack(head[:4])
        framed = _FIRST_BYTE.get(head[4])
        if 0 < length <= MAX_FRAME and framed is not None:
            return Wire(framed, "framed")
    if head[:4] in (b"POST", b"GET ", b"PUT ", b"PRI "):
        return "an HTTP request (THttpClient?), not a Thrift message"
    if head[:1] == b"\x16":
        return "a TLS handshake (TSSLSocket?), not a plain Thrift message"
    return f"bytes that are no Thrift message in binary or compact protocol (first bytes {head[:8].hex(' ')}; a non-strict binary client?)"


class SocketReader(TTransportBase):
    """The reading side of a connection as a thriftpy2 transport: bytes received but not yet read wait
    in `pending` (from `at`), so a peek or a message's end never loses the next message's bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""
        self.at = 0

    def _receive(self) -> bool:
        chunk = self.sock.recv(READ_SIZE)
        if chunk:
            self.pending = self.pending[self.at :] + chunk
            self.at = 0
        return bool(chunk)

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes without consuming them (fewer only at end of stream)."""
        while len(self.pending) - self.at < size and self._receive():
            pass
        return self.pending[self.at : self.at + size]

    def _read(self, size: int) -> bytes:
        if self.at == len(self.pending) and not self._receive():
            raise TTransportException(TTransportException.END_OF_FILE, "the client closed the connection")
        taken = self.pending[self.at : self.at + size]
        self.at += len(taken)
        return taken

    def at_end(self) -> bool:
        """True when the client closed its side before the next message began."""
        return not self.peek(1)


def next_message(reader: SocketReader, wire: Wire) -> Any:
    """A protocol positioned at the next message the client sends (a frame read whole, when framed)."""
    if wire.transport == "buffered":
        return wire.protocol_on(reader)
    (length,) = FRAME_HEADER.unpack(reader.read(FRAME_HEADER.size))
    if not 0 < length <= MAX_FRAME:
        raise TTransportException(TTransportException.UNKNOWN, f"frame of {length} bytes (at most {MAX_FRAME})")
    return wire.protocol_in_memory(reader.read(length))[0]
