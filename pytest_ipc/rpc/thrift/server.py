"""The Thrift stub's sockets: a listener per test on loopback, a thread per connection, every thread joined.

It decodes each call (`idl.Service`) and hands it to its `Dispatcher` (the stub), which decides and
answers through the connection's primitives: `send` the bytes of an answer, `cut` the connection
(FIN or RST), and `closed_by_client` to end a wait when the client gives up. It owns no routes,
journal or fault decisions.

Each test gets a listener of its own on a port the OS chooses (`next_listener`): when a test ends,
its listener and every connection it accepted are closed and their threads joined, so a client of an
ended test that reconnects is refused instead of being counted in the next test. A client that speaks
another protocol or transport than the stub's (`wire.heard`) is closed at once and reported.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Literal, Protocol

from thriftpy2.protocol.exc import TProtocolException
from thriftpy2.thrift import TException
from thriftpy2.transport.base import TTransportException

from pytest_ipc._net import LOOPBACK
from pytest_ipc.rpc.thrift.idl import Service, ThriftCall, read_call
from pytest_ipc.rpc.thrift.wire import SocketReader, Wire, heard, next_message

Cut = Literal["close", "reset"]
CONNECTION_THREAD = "pytest-ipc-thrift-connection"
ACCEPT_THREAD = "pytest-ipc-thrift-accept"
WATCH_THREAD = "pytest-ipc-thrift-watch"
JOIN_TIMEOUT = 5.0  # seconds; every thread here blocks only on a socket that closing wakes
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class Dispatcher(Protocol):
    """What the server serves for (the Thrift stub): its service and wire, and a decision for each call."""

    @property
    def wire(self) -> Wire:
        """The protocol and transport clients must speak (read when a connection's first bytes arrive)."""

    @property
    def service(self) -> Service | None:
        """The IDL service calls are decoded with (None: none served yet; every call is then unknown)."""

    def dispatch(self, call: ThriftCall, connection: Connection) -> bool:
        """Answer `call` on `connection`; False when the connection is done (cut, or the call was cancelled)."""

    def problem(self, message: str) -> None:
        """Something the stub's report must name (a client on the wrong wire, an undecodable message)."""


class Connection:
    """One client connection, served on its own thread until the client closes it or the test ends."""

    def __init__(self, sock: socket.socket, peer: str, server: ThriftServer) -> None:
        self.sock = sock
        self.peer = peer
        self.server = server
        self.wire = server.dispatcher.wire
        self.thread = threading.Thread(target=self.run, name=CONNECTION_THREAD, daemon=True)

    def run(self) -> None:
        try:
            self.serve()
        except (OSError, TTransportException):
            pass  # the client went away, or the test ended and shut the socket under us
        except Exception:  # a defect of the stub: the test must hear of it, not a thread's stderr
            self.server.dispatcher.problem(f"serving a client ({self.peer}) failed:\n{traceback.format_exc()}")
        finally:
            self.sock.close()

    def serve(self) -> None:
        reader = SocketReader(self.sock)
        head = reader.peek(5)
        if not head:
            return  # connected and left (a readiness probe)
        spoken, wire = heard(head), self.server.dispatcher.wire
        self.wire = wire
        if spoken != wire:
            what = f"spoke {spoken}" if isinstance(spoken, Wire) else f"sent {spoken}"
            self.server.dispatcher.problem(
                f"a client ({self.peer}) {what}; this stub serves {wire}: give the client {wire.factories()} "
                f"(or serve the client's wire with thrift_stub.serve(protocol=..., transport=...)); the connection was closed"
            )
            return
        dispatcher = self.server.dispatcher
        while not reader.at_end():
            try:
                call = read_call(next_message(reader, wire), dispatcher.service)
            except TTransportException:
                raise
            except (TProtocolException, TException, ValueError, TypeError, RecursionError, UnicodeDecodeError) as error:
                self.server.dispatcher.problem(f"a client ({self.peer}) sent a message this stub cannot decode as {wire}: {error!r}")
                return
            if not self.server.dispatcher.dispatch(call, self):
                return

    # -- what the dispatcher does with the connection --------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cut(self, how: Cut) -> None:
        """End the connection without an answer: "close" sends FIN, "reset" RST (the thread then closes the socket)."""
        if how == "reset":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        else:
            self.sock.shutdown(socket.SHUT_RDWR)

    @contextlib.contextmanager
    def closed_by_client(self, on_close: Callable[[], None]) -> Iterator[None]:
        """Call `on_close` if the client closes the connection inside the block (it gave up on a late answer)."""
        wake_here, wake_there = socket.socketpair()
        watcher = threading.Thread(target=self._watch, args=(wake_there, on_close), name=WATCH_THREAD, daemon=True)
        watcher.start()
        try:
            yield
        finally:
            wake_here.send(b"x")
            watcher.join(JOIN_TIMEOUT)
            wake_here.close()
            wake_there.close()

    def _watch(self, wake: socket.socket, on_close: Callable[[], None]) -> None:
        try:
            readable, _, _ = select.select([self.sock, wake], [], [])
            if self.sock in readable and wake not in readable and not self.sock.recv(1, socket.MSG_PEEK):
                on_close()
        except (OSError, ValueError):
            on_close()  # the socket was shut or closed under us: nobody waits for the answer any more

    def close(self) -> None:
        """Stop serving: end the socket (a waiting call is woken by the stub), join the thread."""
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
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # an answer goes out at once, as RPC servers send
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

    def busy(self) -> bool:
        with self.lock:
            return any(connection.thread.is_alive() for connection in self.connections)


class ThriftServer:
    """Serves on `host` for `dispatcher`."""

    def __init__(self, dispatcher: Dispatcher, host: str = LOOPBACK) -> None:
        self.dispatcher = dispatcher
        self.host = host
        self.listener: Listener | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self.listener is None:
            raise RuntimeError("the Thrift stub is not started: use it as a context manager, or call start()")
        return self.listener.address

    def start(self) -> None:
        if self.listener is None:
            self.listener = Listener(self.host, self)

    def stop(self) -> None:
        """Close the listener and every connection; every thread of the server is joined."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()

    def next_listener(self) -> None:
        """End the current test's port and connections; the next test gets a new port."""
        if self.listener is not None:
            self.stop()
            self.start()

    @property
    def idle(self) -> bool:
        return self.listener is None or not self.listener.busy()
