"""`GrpcStub`: the RPC stub served by a real grpcio server on loopback, from `.proto` files or generated modules.

Owner of everything gRPC-specific about the stub. No code is generated: the services' descriptors
(`pytest_ipc.protobuf`) give each method's kind and message classes, and one generic handler serves
whatever the stub holds at the moment, so services and routes change while the server runs (one
server per session; `begin_test`/`end_test` reset it). A method the stub does not serve, or a call
no route takes, gets `unmatched_reply` (UNIMPLEMENTED) and is reported at teardown.

A stream of requests is read to its end before the route answers, unless the route answers request
by request (`route.respond_each`, for a bidirectional chat): then it is chosen on the first request
and each answer goes out as its request arrives. The deadline a call carries is read as the time
left when it arrived; grpcio reports "no deadline" as a remaining time of about 292 years, recorded
as None.
"""

from __future__ import annotations

import os
import ssl
import traceback
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_ipc._net import LOOPBACK
from pytest_ipc._optional import require
from pytest_ipc.faults.layers import grpc as grpc_layer
from pytest_ipc.faults.layers.rpc import Plan
from pytest_ipc.protobuf import ProtoSchema, compile_proto, schema_of_modules
from pytest_ipc.rpc.errors import RpcUsageError
from pytest_ipc.rpc.journal import RpcCall
from pytest_ipc.rpc.replies import RpcReply
from pytest_ipc.rpc.stub import RpcStub

grpc = require("grpc", extra="grpc", feature="the gRPC stub")

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from pytest_ipc.rpc.grpc_tls import TlsFront
    from pytest_ipc.tls import Certificate, CertificateAuthority

NO_DEADLINE = 1e9  # seconds left above this: the client set no deadline
THREAD_PREFIX = "pytest-ipc-grpc-stub"
Source = ModuleType | ProtoSchema | str | os.PathLike[str]


@dataclass(frozen=True)
class GrpcMethod:
    """One served method: its full name, kind and message classes."""

    full_name: str
    request_class: type[Message]
    response_class: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def kind(self) -> str:
        return {(False, False): "unary", (False, True): "server streaming", (True, False): "client streaming",
                (True, True): "bidirectional streaming"}[(self.client_streaming, self.server_streaming)]  # fmt: skip


def _schemas(source: Source) -> list[ProtoSchema]:
    if isinstance(source, ProtoSchema):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        return [compile_proto(Path(source))]
    if isinstance(source, ModuleType):
        if hasattr(source, "DESCRIPTOR"):
            return [schema_of_modules(source)]
        found = [value for value in vars(source).values() if isinstance(value, ModuleType) and hasattr(value, "DESCRIPTOR")]
        if found:  # a *_pb2_grpc module imports the *_pb2 modules it serves
            return [schema_of_modules(module) for module in found]
    raise RpcUsageError(
        f"cannot serve {source!r}: give a generated *_pb2 or *_pb2_grpc module, a .proto path or a ProtoSchema (compile_proto)"
    )


class GrpcStub(RpcStub):
    """A gRPC stub on a real grpcio server: `serve()` its services, `expect()` routes, read `calls()`.

    Use as a context manager or `start()`/`stop()`; the `grpc_stub` fixture hands one to each test,
    clean. Clients connect to `target` ("127.0.0.1:port"); `channel()` opens one closed at the end of
    the test. `max_workers` bounds the calls answered at once (held ones included). Given an
    `ssl.SSLContext` (`tls=`) it serves TLS at `target` (`pytest_ipc.rpc.grpc_tls`; the
    `grpc_tls_stub` fixture) and takes the TLS faults; `require_client_certificate()` makes it mutual TLS.
    """

    transport = "grpc"
    layer = grpc_layer.LAYER
    tls_alpn = ("h2",)  # what a TLS fault's replacement context must still select (gRPC clients require it)

    def __init__(self, host: str = LOOPBACK, port: int = 0, *, max_workers: int = 64, tls: ssl.SSLContext | None = None) -> None:
        self._address = (host, port)
        self.tls = tls
        self.tls_authority: CertificateAuthority | None = None  # the CA of `tls`'s certificate: TLS faults issue from it
        self._verify_between_tests = tls.verify_mode if tls is not None else ssl.CERT_NONE
        self.client_certificate_required = False
        self._front: TlsFront | None = None
        self._max_workers = max_workers
        self._server: Any = None
        self._executor: futures.ThreadPoolExecutor | None = None
        self._channels: list[Any] = []
        self.methods: dict[str, GrpcMethod] = {}
        self._handlers: dict[str, Any] = {}
        super().__init__()

    def _clear(self) -> None:
        if getattr(self, "client_certificate_required", False) and self.tls is not None:
            self.tls.verify_mode = self._verify_between_tests
        self.client_certificate_required = False
        super()._clear()
        self.methods = {}
        self._handlers = {}
        self._encoded: dict[int, tuple[RpcReply, list[Message]]] = {}  # id(reply) -> (reply, its messages built)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> GrpcStub:
        self._executor = futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix=THREAD_PREFIX)
        self._server = grpc.server(self._executor, handlers=[_GenericHandler(self)], options=[("grpc.so_reuseport", 0)])
        host, port = self._address
        bound = self._server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        if bound == 0:
            raise RpcUsageError(f"the gRPC stub could not listen on {host}:{port}")
        self._address = (host, bound)
        self._server.start()
        if self.tls is not None:
            from pytest_ipc.rpc.grpc_tls import TlsFront

            try:
                self._front = TlsFront(host, self._address, self.tls).start()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving: calls still held end, the server and its threads are gone."""
        self._close_channels()
        self.reset()
        if self._front is not None:
            self._front.stop()
            self._front = None
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> GrpcStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def end_test(self) -> None:
        self._close_channels()
        super().end_test()

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def port(self) -> int:
        """The port clients connect to (the TLS listener's when the stub serves TLS)."""
        return self._front.port if self._front is not None else self._address[1]

    def channel(self, *, options: list[tuple[str, Any]] | None = None, client_certificate: Certificate | None = None) -> Any:
        """A `grpc.Channel` to the stub (`options`, e.g. a `grpc.service_config`), closed at the end of the test.

        Over TLS it trusts the stub's CA (`tls_authority`) and presents `client_certificate` for mutual TLS.
        """
        if self.tls is None:
            if client_certificate is not None:
                raise RpcUsageError("client_certificate= needs the stub serving TLS (the grpc_tls_stub fixture)")
            made = grpc.insecure_channel(self.target, options=options or [])
        else:
            made = grpc.secure_channel(self.target, self.channel_credentials(client_certificate), options=options or [])
        self._channels.append(made)
        return made

    def channel_credentials(self, client_certificate: Certificate | None = None) -> Any:
        """`grpc.ssl_channel_credentials` trusting the stub's CA only, with `client_certificate` for mutual TLS."""
        if self.tls_authority is None:
            raise RpcUsageError(
                "the stub's CA is unknown: use the grpc_tls_stub fixture, or set tls_authority to the CertificateAuthority "
                "that issued the certificate of its tls= context"
            )
        if client_certificate is None:
            return grpc.ssl_channel_credentials(root_certificates=self.tls_authority.bundle_pem)
        return grpc.ssl_channel_credentials(
            root_certificates=self.tls_authority.bundle_pem,
            private_key=client_certificate.key_pem,
            certificate_chain=client_certificate.chain_pem,
        )

    def require_client_certificate(self) -> None:
        """Mutual TLS until `reset()`: a client presenting no certificate from the stub's CA fails its TLS handshake
        (new connections: a channel already connected keeps its connection)."""
        if self.tls is None or self.tls.verify_mode == ssl.CERT_NONE:
            raise RpcUsageError(
                "require_client_certificate() needs a stub serving TLS whose context trusts a client CA: use the "
                "grpc_tls_stub fixture, or GrpcStub(tls=ipc_tls_ca.server_context(accept_client_certificate=True))"
            )
        self.tls.verify_mode = ssl.CERT_REQUIRED
        self.client_certificate_required = True

    def close_connections(self) -> None:
        """Close every client connection to the TLS listener: the next call makes a new handshake (no-op without TLS)."""
        if self._front is not None:
            self._front.close_connections()

    def _close_channels(self) -> None:
        channels, self._channels = self._channels, []
        for made in channels:
            made.close()

    # -- services --------------------------------------------------------------------------------
    def serve(self, *sources: Source) -> GrpcStub:
        """Serve the services of generated modules (`*_pb2`, `*_pb2_grpc`), `.proto` files or `ProtoSchema`s
        for the rest of the test."""
        if not sources:
            raise RpcUsageError("serve() needs a *_pb2 / *_pb2_grpc module, a .proto path or a ProtoSchema")
        for source in sources:
            for schema in _schemas(source):
                for service in schema.services().values():
                    for method in service.methods:
                        served = GrpcMethod(
                            f"/{service.full_name}/{method.name}",
                            schema.message_class(method.input_type.full_name),
                            schema.message_class(method.output_type.full_name),
                            method.client_streaming,
                            method.server_streaming,
                        )
                        self.methods[served.full_name] = served
                        self._handlers[served.full_name] = _method_handler(self, served)
        return self

    def resolve(self, method: str) -> str:
        """ "Service/Method" (full or short service name), "/pkg.Service/Method" or "pkg.Service.Method"."""
        text = method.strip().lstrip("/")
        if "/" not in text and "." in text:
            text = "/".join(text.rsplit(".", 1))
        candidates = [full for full in self.methods if full[1:] == text or full.endswith(("." + text, "/" + text))]
        if len(candidates) == 1:
            return candidates[0]
        if not self.methods:
            raise RpcUsageError(
                f"no method {method!r}: the stub serves no service yet; grpc_stub.serve(orders_pb2) or serve('orders.proto') first"
            )
        why = f"is ambiguous ({', '.join(candidates)})" if candidates else "is not served"
        raise RpcUsageError(f"method {method!r} {why}; served methods: {', '.join(name[1:] for name in sorted(self.methods))}")

    def as_dict(self, message: object) -> object:
        from google.protobuf import json_format

        if not hasattr(message, "DESCRIPTOR"):
            return message
        return json_format.MessageToDict(message, preserving_proto_field_name=True)  # type: ignore[arg-type]

    def _message(self, cls: type[Message], value: object) -> Message:
        """`value` as a `cls` message: itself, or a dict of its fields (json_format's names)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            from google.protobuf import json_format

            return json_format.ParseDict(value, cls())
        if value is None:
            return cls()
        if hasattr(value, "SerializeToString"):  # the same message from another pool or module
            return cls.FromString(value.SerializeToString())
        raise RpcUsageError(f"cannot send {value!r} as {cls.DESCRIPTOR.full_name}: give the message or a dict of its fields")

    # -- serving ---------------------------------------------------------------------------------
    def open_call(self, method: str, context: Any) -> RpcCall:
        """Record a call that just arrived, with its metadata and deadline."""
        metadata: dict[str, str] = {}
        for item in context.invocation_metadata():
            value = item.value if isinstance(item.value, str) else repr(item.value)
            metadata[item.key] = f"{metadata[item.key]}, {value}" if item.key in metadata else value
        remaining = context.time_remaining()
        return self.begin_call(method, metadata, None if remaining is None or remaining > NO_DEADLINE else remaining)

    def decide(self, call: RpcCall, context: Any) -> Plan | None:
        """The plan for `call`, waited out; None when the call ended meanwhile (cancelled, or the test ended)."""
        plan = self.plan(call)
        if plan.wake is not None and not context.add_callback(lambda: self.release(call)):
            self.release(call)  # the call had already ended
        if self.wait(call, plan):
            return plan
        self.cancelled(call)
        return None


_HandlerBase: Any = grpc.GenericRpcHandler  # grpc ships no types


class _GenericHandler(_HandlerBase):  # type: ignore[misc]  # an untyped base
    """Looks each call's method up in what the stub serves right now."""

    def __init__(self, stub: GrpcStub) -> None:
        self.stub = stub

    def service(self, details: Any) -> Any:
        handler = self.stub._handlers.get(details.method)
        return handler if handler is not None else _unserved_handler(self.stub, details.method)


def _status(context: Any, stub: GrpcStub, call: RpcCall, reply: RpcReply, sent: int) -> None:
    """End a call with `reply`'s status (after `sent` messages); a failing one raises, as grpc's abort does."""
    if reply.trailing_metadata:
        context.set_trailing_metadata(reply.trailing_metadata)
    stub.finish_call(call, reply.code, reply.details, sent)
    if not reply.ok:
        context.abort(getattr(grpc.StatusCode, reply.code), reply.details)


def _ended(context: Any) -> None:
    context.abort(grpc.StatusCode.CANCELLED, "the call ended at the stub (the client gave up, or the test ended)")


ENCODED_KEPT = 256  # canned replies whose messages are kept built (a callback's replies are new each call)


def _responses(stub: GrpcStub, method: GrpcMethod, call: RpcCall, reply: RpcReply, context: Any) -> list[Message] | None:
    built = stub._encoded.get(id(reply))
    if built is not None and built[0] is reply:
        return built[1]
    try:
        messages = [stub._message(method.response_class, message) for message in reply.messages]
        if len(stub._encoded) < ENCODED_KEPT:
            stub._encoded[id(reply)] = (reply, messages)
        return messages
    except Exception as error:  # a reply the schema cannot take: INTERNAL now, the test fails at teardown
        route = call.route.name if call.route else call.method
        call.error = f"the reply of {route} does not fit {method.response_class.DESCRIPTOR.full_name}: {error}"
        _status(context, stub, call, RpcReply.failure("INTERNAL", "the stub's reply does not fit the method's response type"), 0)
        return None


def _each(stub: GrpcStub, method: GrpcMethod, reply: RpcReply, request: Message) -> list[Message]:
    """What `reply.each` answers to one request, as messages of the method's response type."""
    assert reply.each is not None
    answer = reply.each(request)
    answers = [] if answer is None else list(answer) if isinstance(answer, (list, tuple)) else [answer]
    return [stub._message(method.response_class, message) for message in answers]


def _method_handler(stub: GrpcStub, method: GrpcMethod) -> Any:
    """The grpcio handler of one method, of its kind."""
    name = method.full_name

    def read(call: RpcCall, requests: Iterator[Message]) -> None:
        for request in requests:
            call.requests.append(request)

    def unary_reply(call: RpcCall, context: Any) -> Message:
        plan = stub.decide(call, context)
        if plan is None:
            _ended(context)
        assert plan is not None
        messages = _responses(stub, method, call, plan.reply, context)
        _status(context, stub, call, plan.reply, 0)  # raises unless OK
        return messages[0] if messages else method.response_class()

    def stream_reply(call: RpcCall, context: Any) -> Iterator[Message]:
        plan = stub.decide(call, context)
        if plan is None:
            _ended(context)
        assert plan is not None
        messages = _responses(stub, method, call, plan.reply, context) or []
        yield from messages
        _status(context, stub, call, plan.reply, len(messages))

    def unary_unary(request: Message, context: Any) -> Message:
        call = stub.open_call(name, context)
        call.requests.append(request)
        return unary_reply(call, context)

    def unary_stream(request: Message, context: Any) -> Iterator[Message]:
        call = stub.open_call(name, context)
        call.requests.append(request)
        return stream_reply(call, context)

    def stream_unary(requests: Iterator[Message], context: Any) -> Message:
        call = stub.open_call(name, context)
        read(call, requests)
        return unary_reply(call, context)

    def stream_stream(requests: Iterator[Message], context: Any) -> Iterator[Message]:
        call = stub.open_call(name, context)
        first = next(requests, None)
        if first is not None:
            call.requests.append(first)
        if not stub.answers_each(call):
            read(call, requests)  # answered once the client half-closes
        plan = stub.decide(call, context)
        if plan is None:
            _ended(context)
        assert plan is not None
        if plan.reply.each is None or not plan.reply.ok:
            read(call, requests)
            messages = _responses(stub, method, call, plan.reply, context) or []
            yield from messages
            _status(context, stub, call, plan.reply, len(messages))
            return
        sent = 0
        pending = [] if first is None else [first]
        while True:
            for request in pending:
                try:
                    answers = _each(stub, method, plan.reply, request)
                except Exception:  # a user callback failed: INTERNAL now, the test fails at teardown
                    call.error = traceback.format_exc()
                    _status(context, stub, call, RpcReply.failure("INTERNAL", "stub route raised; see the test's teardown report"), sent)
                yield from answers
                sent += len(answers)
            following = next(requests, None)
            if following is None:
                break
            call.requests.append(following)
            pending = [following]
        _status(context, stub, call, plan.reply, sent)

    decode, encode = method.request_class.FromString, method.response_class.SerializeToString
    makers: dict[tuple[bool, bool], tuple[Callable[..., Any], Callable[..., Any]]] = {
        (False, False): (grpc.unary_unary_rpc_method_handler, unary_unary),
        (False, True): (grpc.unary_stream_rpc_method_handler, unary_stream),
        (True, False): (grpc.stream_unary_rpc_method_handler, stream_unary),
        (True, True): (grpc.stream_stream_rpc_method_handler, stream_stream),
    }
    make, behaviour = makers[(method.client_streaming, method.server_streaming)]
    return make(behaviour, request_deserializer=decode, response_serializer=encode)


def _unserved_handler(stub: GrpcStub, name: str) -> Any:
    """A method the stub does not serve: recorded as unmatched, answered with `unmatched_reply` (raw bytes, never read)."""

    def unserved(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        call = stub.open_call(name, context)
        plan = stub.decide(call, context)
        served = f"; it serves {', '.join(sorted(stub.methods))}" if stub.methods else ""
        call.closest_misses = [f"the stub serves no method {name}{served}"]
        if plan is None:
            _ended(context)
        assert plan is not None
        _status(context, stub, call, plan.reply, 0)
        yield from ()

    return grpc.stream_stream_rpc_method_handler(unserved)
