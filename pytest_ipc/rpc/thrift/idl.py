"""A Thrift service as the stub sees it: loaded from an IDL file or a module thriftpy2 made, its
methods, and the bytes of a call, a reply, a declared exception or a `TApplicationException`.

The one place the stub reads thriftpy2's generated classes (`<method>_args`, `<method>_result`, their
`thrift_spec`); the server and the stub API only see method names, argument dicts and replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from thriftpy2.thrift import TApplicationException, TMessageType, TPayload, TType

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.rpc.codes import THRIFT_ERRORS
from pytest_ipc.rpc.thrift.errors import ThriftUsageError
from pytest_ipc.rpc.thrift.wire import Wire
from pytest_ipc.thrift_idl import ThriftIdl, load_thrift

APPLICATION_ERRORS: dict[str, int] = {name: getattr(TApplicationException, name) for name in THRIFT_ERRORS}  # name -> type


@dataclass(frozen=True)
class ThriftCall:
    """One decoded request: `method`, its arguments by IDL name, the client's sequence id, and whether
    the IDL declares it oneway (nothing is sent back). `method` is not one of the service's when the
    client called a method the IDL lacks (`known` False, `args` empty)."""

    method: str
    args: Mapping[str, object]
    seqid: int
    oneway: bool
    known: bool = True


def load_service(idl: ThriftIdl, service: str | None = None) -> tuple[ModuleType, type]:
    """(module, service class) from an IDL file's path or a module thriftpy2 loaded (`pytest_ipc.thrift_idl`
    loads it); `service` names one when the IDL declares several."""
    try:
        module = load_thrift(idl)
    except IpcUsageError as error:  # the stub's area error, with the loader's message
        raise ThriftUsageError(str(error)) from error
    meta = getattr(module, "__thrift_meta__", None)
    services: list[type] = list(meta["services"]) if meta else []
    source = getattr(module, "__thrift_file__", None) or module.__name__
    if not services:
        raise ThriftUsageError(f"{source} declares no service: expected an IDL with a `service` block")
    if service is None and len(services) == 1:
        return module, services[0]
    named = [candidate for candidate in services if candidate.__name__ == service]
    if not named:
        choices = ", ".join(candidate.__name__ for candidate in services)
        wanted = "several services: name one with service=" if service is None else f"no service {service!r}"
        raise ThriftUsageError(f"{source} declares {wanted}; its services: {choices}")
    return module, named[0]


class Service:
    """The stub's view of one IDL service: method names, oneway-ness, declared exceptions, and codecs."""

    def __init__(self, idl: ThriftIdl, service: str | None = None) -> None:
        self.module, self.cls = load_service(idl, service)
        self.name: str = self.cls.__name__
        self.methods: tuple[str, ...] = tuple(getattr(self.cls, "thrift_services"))  # noqa: B009  # set by thriftpy2

    def __repr__(self) -> str:
        return f"Service({self.name!r}, methods={list(self.methods)})"

    def check_method(self, method: object) -> str:
        if method not in self.methods:
            raise ThriftUsageError(f"{self.name} has no method {method!r}; its methods: {', '.join(self.methods)}")
        return str(method)

    def oneway(self, method: str) -> bool:
        return bool(getattr(self.cls, f"{method}_result").oneway)

    def declared(self, method: str, error: BaseException) -> str | None:
        """The result field that carries `error` when `method` declares its class (by name), else None."""
        spec = getattr(self.cls, f"{method}_result").thrift_spec
        return next((field[1] for fid, field in spec.items() if fid != 0 and field[2].__name__ == type(error).__name__), None)

    def as_result(self, method: str, value: object) -> object:
        """`value` as `method`'s return type: dicts become the IDL's structs (nested ones too); the rest as is."""
        success = getattr(self.cls, f"{method}_result").thrift_spec.get(0)
        if success is None or value is None:
            return value
        return _build(success[0], _element(success), value, f"{self.name}.{method} reply")

    # -- codecs ----------------------------------------------------------------------------------
    def encode_result(self, wire: Wire, call: ThriftCall, value: object) -> bytes:
        """The REPLY carrying `value` (already `as_result`) as `call`'s result."""
        result = getattr(self.cls, f"{call.method}_result")()
        if 0 in result.thrift_spec:
            result.success = value
        return _message(wire, call, TMessageType.REPLY, result)

    def encode_declared(self, wire: Wire, call: ThriftCall, error: BaseException) -> bytes:
        """The REPLY carrying `error`, an exception `call.method` declares, in its own result field."""
        result = getattr(self.cls, f"{call.method}_result")()
        field = self.declared(call.method, error)
        if field is None:
            raise ThriftUsageError(self.undeclared(call.method, error))
        setattr(result, field, error)
        return _message(wire, call, TMessageType.REPLY, result)

    def undeclared(self, method: str, error: BaseException) -> str:
        listed = ", ".join(field[2].__name__ for fid, field in getattr(self.cls, f"{method}_result").thrift_spec.items() if fid != 0)
        return (
            f"{self.name}.{method} does not declare {type(error).__name__} (its `throws`: {listed or 'none'}); an undeclared "
            "exception cannot travel in Thrift: answer with a declared one, or with faults.thrift_error(\"INTERNAL_ERROR\")"
        )


def read_call(protocol: Any, service: Service | None) -> ThriftCall:
    """Decode the message `protocol` is positioned at; a method `service` lacks (or any, without one) is skipped."""
    method, kind, seqid = protocol.read_message_begin()
    if service is None or method not in service.methods:
        protocol.skip(TType.STRUCT)
        protocol.read_message_end()
        return ThriftCall(method, {}, seqid, oneway=kind == TMessageType.ONEWAY, known=False)
    args = getattr(service.cls, f"{method}_args")()
    protocol.read_struct(args)
    protocol.read_message_end()
    names = [field[1] for field in args.thrift_spec.values()]
    return ThriftCall(method, {name: getattr(args, name) for name in names}, seqid, oneway=service.oneway(method))


def _element(field: tuple[Any, ...]) -> Any:
    """The type detail of a thrift_spec entry: a struct or enum class, a container's element spec, or None."""
    return field[2] if len(field) == 4 else None


def _unpack(spec: Any) -> tuple[int, Any]:
    return (spec[0], spec[1]) if isinstance(spec, tuple) else (spec, None)


def _build(ttype: int, spec: Any, value: object, where: str) -> object:
    """`value` with every dict that stands for a struct made into that struct (by the IDL's `spec`)."""
    if ttype == TType.STRUCT and isinstance(value, Mapping):
        fields = {field[1]: field for field in spec.thrift_spec.values()}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            missing = ", ".join(map(str, unknown))
            raise ThriftUsageError(f"{where}: {spec.__name__} has no field(s) {missing}; its fields: {', '.join(fields)}")
        return spec(**{name: _build(fields[name][0], _element(fields[name]), item, f"{where}.{name}") for name, item in value.items()})
    if ttype in (TType.LIST, TType.SET) and isinstance(value, (list, tuple, set, frozenset)):
        kind, detail = _unpack(spec)
        items = [_build(kind, detail, item, f"{where}[{index}]") for index, item in enumerate(value)]
        return set(items) if ttype == TType.SET else items
    if ttype == TType.MAP and isinstance(value, Mapping):
        (key_type, key_spec), (value_type, value_spec) = _unpack(spec[0]), _unpack(spec[1])
        return {
            _build(key_type, key_spec, key, f"{where} key"): _build(value_type, value_spec, item, f"{where}[{key!r}]")
            for key, item in value.items()
        }
    return value


def plain(value: object) -> object:
    """A decoded Thrift value with its structs as dicts of their fields (what request matching compares)."""
    if isinstance(value, TPayload):
        return {name: plain(item) for name, item in vars(value).items()}
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    return value


def _message(wire: Wire, call: ThriftCall, kind: int, body: Any) -> bytes:
    def write(protocol: Any) -> None:
        protocol.write_message_begin(call.method, kind, call.seqid)
        protocol.write_struct(body)
        protocol.write_message_end()

    return wire.encode(write)


def encode_application_error(wire: Wire, call: ThriftCall, error: TApplicationException) -> bytes:
    """The EXCEPTION message carrying a TApplicationException, answering `call`."""
    return _message(wire, call, TMessageType.EXCEPTION, error)


def application_error(kind: str, message: str) -> TApplicationException:
    """A `TApplicationException` of the type named `kind` ("INTERNAL_ERROR"; an unknown name is INTERNAL_ERROR)."""
    return TApplicationException(APPLICATION_ERRORS.get(kind, TApplicationException.INTERNAL_ERROR), message or None)
