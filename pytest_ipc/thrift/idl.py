"""A Thrift service as the stub sees it: loaded from an IDL file or a module thriftpy2 made, its
methods, and the bytes of a call, a reply, a declared exception or a `TApplicationException`.

The one place the stub reads thriftpy2's generated classes (`<method>_args`, `<method>_result`, their
`thrift_spec`); the server and the stub API only see method names, argument dicts and replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import thriftpy2
from thriftpy2.thrift import TApplicationException, TMessageType, TType

from pytest_ipc.thrift.errors import ThriftUsageError
from pytest_ipc.thrift.wire import Wire

APPLICATION_ERRORS: dict[str, int] = {
    "UNKNOWN": TApplicationException.UNKNOWN,
    "UNKNOWN_METHOD": TApplicationException.UNKNOWN_METHOD,
    "INVALID_MESSAGE_TYPE": TApplicationException.INVALID_MESSAGE_TYPE,
    "WRONG_METHOD_NAME": TApplicationException.WRONG_METHOD_NAME,
    "BAD_SEQUENCE_ID": TApplicationException.BAD_SEQUENCE_ID,
    "MISSING_RESULT": TApplicationException.MISSING_RESULT,
    "INTERNAL_ERROR": TApplicationException.INTERNAL_ERROR,
    "PROTOCOL_ERROR": TApplicationException.PROTOCOL_ERROR,
}


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


def load_service(idl: str | Path | ModuleType, service: str | None = None) -> tuple[ModuleType, type]:
    """(module, service class) from an IDL file's path or a module `thriftpy2.load` made; `service`
    names one when the IDL declares several."""
    if isinstance(idl, ModuleType):
        module = idl
    else:
        path = Path(idl)
        if path.suffix != ".thrift" or not path.is_file():
            raise ThriftUsageError(f"expected a .thrift file or a module thriftpy2.load made, got {str(idl)!r} (no such .thrift file)")
        try:
            module = thriftpy2.load(str(path), module_name=f"{path.stem.replace('-', '_')}_thrift")
        except Exception as error:  # thriftpy2's parser raises its own errors; say which file
            raise ThriftUsageError(f"{path}: thriftpy2 cannot load this IDL: {error}") from error
    meta = getattr(module, "__thrift_meta__", None)
    services: list[type] = list(meta["services"]) if meta else []
    if not services:
        raise ThriftUsageError(f"{module.__name__} declares no service: expected an IDL with a `service` block")
    if service is None and len(services) == 1:
        return module, services[0]
    named = [candidate for candidate in services if candidate.__name__ == service]
    if not named:
        choices = ", ".join(candidate.__name__ for candidate in services)
        wanted = "several services: name one with service=" if service is None else f"no service {service!r}"
        raise ThriftUsageError(f"{module.__name__} declares {wanted}; its services: {choices}")
    return module, named[0]


class Service:
    """The stub's view of one IDL service: method names, oneway-ness, declared exceptions, and codecs."""

    def __init__(self, idl: str | Path | ModuleType, service: str | None = None) -> None:
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

    def exceptions(self, method: str) -> dict[str, type]:
        """The exceptions `method` declares (`throws (1: NotFound not_found)`), by class name."""
        spec = getattr(self.cls, f"{method}_result").thrift_spec
        return {field[2].__name__: field[2] for fid, field in spec.items() if field[1] != "success" and fid != 0}

    def check_reply(self, method: str, value: object) -> None:
        """Fail in the test, not on the stub's thread, for a reply `method` cannot send."""
        if isinstance(value, BaseException):
            if isinstance(value, TApplicationException):
                return
            declared = self.exceptions(method)
            if type(value).__name__ not in declared:
                listed = ", ".join(declared) or "none"
                raise ThriftUsageError(
                    f"{self.name}.{method} does not declare {type(value).__name__} (its `throws`: {listed}); "
                    "an undeclared exception cannot travel in Thrift: raise a declared one, or answer with "
                    "faults.thrift_error(...) / a TApplicationException"
                )
            return
        if self.oneway(method) and value is not None:
            raise ThriftUsageError(f"{self.name}.{method} is oneway: the stub sends nothing back, so it takes no reply value")

    # -- codecs ----------------------------------------------------------------------------------
    def read_call(self, protocol: Any) -> ThriftCall:
        """Decode the message `protocol` is positioned at."""
        method, kind, seqid = protocol.read_message_begin()
        if method not in self.methods:
            protocol.skip(TType.STRUCT)
            protocol.read_message_end()
            return ThriftCall(method, {}, seqid, oneway=kind == TMessageType.ONEWAY, known=False)
        args = getattr(self.cls, f"{method}_args")()
        protocol.read_struct(args)
        protocol.read_message_end()
        names = [field[1] for field in args.thrift_spec.values()]
        return ThriftCall(method, {name: getattr(args, name) for name in names}, seqid, oneway=self.oneway(method))

    def encode_reply(self, wire: Wire, call: ThriftCall, value: object) -> bytes:
        """The bytes answering `call` with `value`: a result, a declared exception or a TApplicationException."""
        if isinstance(value, TApplicationException):
            return encode_application_error(wire, call, value)
        result = getattr(self.cls, f"{call.method}_result")()
        if isinstance(value, BaseException):
            field = next(spec[1] for fid, spec in result.thrift_spec.items() if fid != 0 and spec[2].__name__ == type(value).__name__)
            setattr(result, field, value)
        elif "success" in (spec[1] for spec in result.thrift_spec.values()):
            result.success = value

        def write(protocol: Any) -> None:
            protocol.write_message_begin(call.method, TMessageType.REPLY, call.seqid)
            protocol.write_struct(result)
            protocol.write_message_end()

        return wire.encode(write)


def encode_application_error(wire: Wire, call: ThriftCall, error: TApplicationException) -> bytes:
    """The bytes of a TApplicationException answering `call` (an EXCEPTION message)."""

    def write(protocol: Any) -> None:
        protocol.write_message_begin(call.method, TMessageType.EXCEPTION, call.seqid)
        protocol.write_struct(error)
        protocol.write_message_end()

    return wire.encode(write)


def application_error(kind: str | int, message: str | None = None) -> TApplicationException:
    """A `TApplicationException` from its type's name ("INTERNAL_ERROR") or number."""
    if isinstance(kind, str):
        if kind.upper() not in APPLICATION_ERRORS:
            raise ThriftUsageError(f"unknown TApplicationException type {kind!r}; choose one of: {', '.join(APPLICATION_ERRORS)}")
        return TApplicationException(APPLICATION_ERRORS[kind.upper()], message)
    if kind not in APPLICATION_ERRORS.values():
        raise ThriftUsageError(f"unknown TApplicationException type {kind!r}; choose one of: {', '.join(APPLICATION_ERRORS)}")
    return TApplicationException(kind, message)
