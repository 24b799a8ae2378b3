"""The Thrift stub's server: real sockets on loopback, a thread per connection, every thread joined.

It decodes each call (`idl.Service`), asks its `Dispatcher` what to do, and does it on the wire:
answer (a result, a declared exception, a `TApplicationException`), after a delay or not, hold the
call until the test ends (hang), close the connection (FIN) or reset it (RST). It owns no routes,
journal or fault decisions: those are the dispatcher's.

Each test gets a listener of its own on a port the OS chooses (`next_listener`): when a test ends,
its listener and every connection it accepted are closed and their threads joined, so a client of
an ended test that reconnects is refused instead of being counted in the next test. A client that
speaks another protocol or transport than the stub's (`wire.heard`) is closed at once and reported.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from thriftpy2.protocol.exc import TProtocolException
from thriftpy2.thrift import TApplicationException, TException
from thriftpy2.transport.base import TTransportException

from pytest_ipc._net import LOOPBACK
from pytest_ipc.thrift.idl import Service, ThriftCall, encode_application_error
from pytest_ipc.thrift.wire import SocketReader, Wire, heard, next_message

Action = Literal["reply", "hang", "close", "reset"]
CONNECTION_THREAD = "pytest-ipc-thrift-connection"
ACCEPT_THREAD = "pytest-ipc-thrift-accept"
JOIN_TIMEOUT = 5.0  # seconds; a connection thread only blocks on its socket or its cancel event
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass
class Plan:
    """What the dispatcher decided for one call: wait `delay` seconds, then do `action` (for "reply",
    send `value`: a result, a declared exception or a TApplicationException; None for a void or
    oneway method). `ended(outcome)` is told how it went ("replied", "hung", "closed", "reset",
    "cancelled": the test ended or the stub reset first)."""

    action: Action = "reply"
    value: object = None
    delay: float = 0.0
    ended: Callable[[str], None] = lambda outcome: None


class Dispatcher(Protocol):
    """Decides each call (the stub: routes, replies, faults, journal)."""

    def dispatch(self, call: ThriftCall, peer: str) -> Plan:
        """What to do with `call`, which came from `peer` ("127.0.0.1:53412")."""

    def problem(self, message: str) -> None:
        """Something the stub's report must name (a client on the wrong wire, an undecodable message)."""


class Connection:
    """One client connection, served on its own thread until the client closes it or the test ends."""

    def __init__(self, sock: socket.socket, peer: str, server: ThriftServer) -> None:
        self.sock = sock
        self.peer = peer
        self.server = server
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self.run, name=CONNECTION_THREAD, daemon=True)

    def run(self) -> None:
        try:
            self.serve()
        except (OSError, TTransportException):
            pass  # the client went away, or the test ended and closed the socket under us
        finally:
            self.sock.close()

    def serve(self) -> None:
        reader = SocketReader(self.sock)
        head = reader.peek(5)
        if not head:
            return  # connected and left (a readiness probe)
        spoken = heard(head)
        wire = self.server.wire
        if spoken != wire:
            what = f"spoke {spoken}" if isinstance(spoken, Wire) else f"sent {spoken}"
            self.server.dispatcher.problem(
                f"a client ({self.peer}) {what}; this stub serves {wire}: give the client {wire.factories()} "
                f"(or serve the client's wire with thrift_stub.serve(protocol=..., transport=...)); the connection was closed"
            )
            return
        while not self.cancelled.is_set() and not reader.at_end():
            try:
                call = self.server.service.read_call(next_message(reader, wire))
            except (TProtocolException, TException, ValueError, RecursionError, UnicodeDecodeError) as error:
                if isinstance(error, TTransportException):
                    raise
                self.server.dispatcher.problem(f"a client ({self.peer}) sent a message this stub cannot decode as {wire}: {error!r}")
                return
            if not self.perform(call, self.server.dispatcher.dispatch(call, self.peer)):
                return

    def perform(self, call: ThriftCall, plan: Plan) -> bool:
        """Carry out `plan`; False when the connection is done."""
        if plan.delay > 0 and self.cancelled.wait(plan.delay):
            plan.ended("cancelled")
            return False
        if plan.action == "hang":
            self.cancelled.wait()
            plan.ended("hung")
            return False
        if plan.action == "close":
            self.sock.shutdown(socket.SHUT_RDWR)
            plan.ended("closed")
            return False
        if plan.action == "reset":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            plan.ended("reset")
            return False
        if not call.oneway:
            if call.known:
                data = self.server.service.encode_reply(self.server.wire, call, plan.value)
            else:
                unknown = f"{self.server.service.name} has no method {call.method!r}"
                error = TApplicationException(TApplicationException.UNKNOWN_METHOD, unknown)
                data = encode_application_error(self.server.wire, call, error)
            self.sock.sendall(data)
        plan.ended("replied")
        return True

    def close(self) -> None:
        """Stop serving: wake a delayed or hung call, end the socket, join the thread."""
        self.cancelled.set()
        with contextlib.suppress(OSError):  # already closed by the client or by a fault
            self.sock.shutdown(socket.SHUT_RDWR)
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(JOIN_TIMEOUT)


class Listener:
    """One test's listening socket and the connections it accepted."""

    def __init__(self, host: str, server: ThriftServer) -> None:
        self.server = server
        self.sock = socket.create_server((host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.connections: list[Connection] = []
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self.accept, name=ACCEPT_THREAD, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                sock, peer = self.sock.accept()
            except OSError:
                return  # the listener was shut down
            connection = Connection(sock, f"{peer[0]}:{peer[1]}", self.server)
            with self.lock:
                if self.closing:
                    sock.close()
                    return
                self.connections.append(connection)
            connection.thread.start()

    def close(self) -> None:
        with self.lock:
            self.closing = True
            connections, self.connections = self.connections, []
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept() (Linux)
        self.sock.close()
        self.thread.join(JOIN_TIMEOUT)
        for connection in connections:
            connection.close()

    def drop_connections(self) -> None:
        """Close every connection accepted so far, keeping the listener."""
        with self.lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            connection.close()

    def busy(self) -> bool:
        with self.lock:
            return any(connection.thread.is_alive() for connection in self.connections)


class ThriftServer:
    """Serves `service` on `host` in `wire`, deciding each call with `dispatcher`."""

    def __init__(self, service: Service, dispatcher: Dispatcher, wire: Wire, host: str = LOOPBACK) -> None:
        self.service = service
        self.dispatcher = dispatcher
        self.wire = wire
        self.host = host
        self.listener: Listener | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self.listener is None:
            raise RuntimeError("the Thrift stub is not started")
        return self.listener.address

    def start(self) -> None:
        if self.listener is None:
            self.listener = Listener(self.host, self)

    def stop(self) -> None:
        """Close the listener and every connection; every thread of the server is joined."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()

    def drop_connections(self) -> None:
        """Close the current test's connections (hung and delayed calls end), keeping its port."""
        if self.listener is not None:
            self.listener.drop_connections()

    def next_listener(self) -> None:
        """End the current test's port and connections; the next test gets a new port."""
        self.stop()
        self.start()

    @property
    def idle(self) -> bool:
        return self.listener is None or not self.listener.busy()
