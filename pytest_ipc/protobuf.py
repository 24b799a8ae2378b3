"""Protocol Buffers schemas as values: `.proto` files compiled here, or a user's generated modules.

The one owner of turning a `.proto` into descriptors and message classes. The gRPC stub, the
compatibility check and the broker payload checks all take a `ProtoSchema`, so two versions of the
same file (same package, same names) live side by side: each compiled schema has its own descriptor
pool, never the process-wide default one.

Compilation uses the protoc that grpcio-tools bundles (no download), in this process, with its error
output captured so that a syntax error names the file and line. Results are cached by the files'
contents, so a session compiles each version once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._optional import require

if TYPE_CHECKING:
    from google.protobuf.descriptor import Descriptor, FileDescriptor, ServiceDescriptor
    from google.protobuf.descriptor_pool import DescriptorPool
    from google.protobuf.message import Message

__all__ = ["ProtoSchema", "ProtoSchemaError", "compile_proto", "schema_of_modules"]

# protoc writes its diagnostics to file descriptor 2; capturing them swaps that descriptor, which is
# process-wide, so one compilation runs at a time.
_PROTOC_LOCK = threading.Lock()


class ProtoSchemaError(IpcUsageError):
    """A `.proto` that does not compile, or a name the schema does not have."""


@dataclass(frozen=True)
class ProtoSchema:
    """Compiled `.proto` files: their messages, enums and services, in a descriptor pool of their own."""

    pool: DescriptorPool
    files: tuple[FileDescriptor, ...]  # the files asked for, not their imports
    _classes: dict[str, type[Message]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def package(self) -> str:
        """The package of the first file ("" when it declares none)."""
        return self.files[0].package if self.files else ""

    def messages(self) -> dict[str, Descriptor]:
        """Every message the files declare, nested ones included, by full name."""
        found: dict[str, Descriptor] = {}

        def walk(descriptor: Descriptor) -> None:
            found[descriptor.full_name] = descriptor
            for nested in descriptor.nested_types:
                walk(nested)

        for file in self.files:
            for descriptor in file.message_types_by_name.values():
                walk(descriptor)
        return found

    def services(self) -> dict[str, ServiceDescriptor]:
        """Every service the files declare, by full name ("shop.v1.Orders")."""
        return {service.full_name: service for file in self.files for service in file.services_by_name.values()}

    def message_class(self, name: str) -> type[Message]:
        """The message class for `name` (full name, or the short name when it is unique)."""
        if name not in self._classes:
            from google.protobuf import message_factory

            self._classes[name] = message_factory.GetMessageClass(self.message(name))
        return self._classes[name]

    def message(self, name: str) -> Descriptor:
        """The descriptor of message `name` (full name, or the short name when it is unique)."""
        messages = self.messages()
        if name in messages:
            return messages[name]
        matches = [full for full in messages if full.rsplit(".", 1)[-1] == name]
        if len(matches) == 1:
            return messages[matches[0]]
        known = ", ".join(sorted(messages)) or "none"
        why = f"is ambiguous ({', '.join(matches)})" if matches else "is not declared"
        raise ProtoSchemaError(f"message {name!r} {why}; messages: {known}")

    def service(self, name: str) -> ServiceDescriptor:
        """The descriptor of service `name` (full name, or the short name when it is unique)."""
        services = self.services()
        if name in services:
            return services[name]
        matches = [full for full in services if full.rsplit(".", 1)[-1] == name]
        if len(matches) == 1:
            return services[matches[0]]
        known = ", ".join(sorted(services)) or "none"
        raise ProtoSchemaError(f"service {name!r} is not declared; services: {known}")


def compile_proto(*protos: str | os.PathLike[str], include: Sequence[str | os.PathLike[str]] = ()) -> ProtoSchema:
    """Compile `.proto` files (with their imports from `include` and the files' own folders)."""
    if not protos:
        raise ProtoSchemaError("compile_proto needs at least one .proto file")
    paths = tuple(Path(proto).resolve() for proto in protos)
    for path in paths:
        if not path.is_file():
            raise ProtoSchemaError(f"no .proto file at {path}")
    roots = tuple(dict.fromkeys([*(Path(root).resolve() for root in include), *(path.parent for path in paths)]))
    contents = tuple(path.read_bytes() for path in paths)
    return _compiled(paths, roots, contents)


@cache
def _compiled(paths: tuple[Path, ...], roots: tuple[Path, ...], contents: tuple[bytes, ...]) -> ProtoSchema:
    """Compile once per set of files, folders and contents (`contents` is part of the cache key only)."""
    require("grpc_tools", extra="grpc", feature="compiling .proto files")
    from google.protobuf import descriptor_pb2, descriptor_pool
    from grpc_tools import protoc

    well_known = Path(protoc.__file__).parent / "_proto"
    relative = [_relative_to_roots(path, roots) for path in paths]
    with tempfile.TemporaryDirectory(prefix="pytest-ipc-protoc-") as scratch:
        out = Path(scratch) / "set.pb"
        includes = [f"-I{root}" for root in (*roots, well_known)]
        argv = ["protoc", *includes, "--include_imports", f"--descriptor_set_out={out}", *relative]
        errors: list[str] = []
        with _PROTOC_LOCK, _stderr_captured(errors):
            status = protoc.main(argv)
        if status != 0 or not out.exists():
            message = "".join(errors).strip() or f"protoc exited with {status}"
            raise ProtoSchemaError(f"{', '.join(str(path) for path in paths)} did not compile:\n{message}")
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file_proto in descriptor_set.file:
        pool.Add(file_proto)
    return ProtoSchema(pool, tuple(pool.FindFileByName(name) for name in relative))


def _relative_to_roots(path: Path, roots: Sequence[Path]) -> str:
    for root in roots:
        with contextlib.suppress(ValueError):
            return path.relative_to(root).as_posix()
    raise AssertionError("a file's own folder is always a root")  # pragma: no cover


@contextlib.contextmanager
def _stderr_captured(into: list[str]) -> Iterator[None]:
    """Point file descriptor 2 at a temporary file for the block, and append what was written to `into`."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            into.append(sink.read().decode(errors="replace"))


def schema_of_modules(*modules: ModuleType) -> ProtoSchema:
    """The schema of a user's generated `*_pb2` modules (they live in the default descriptor pool)."""
    if not modules:
        raise ProtoSchemaError("schema_of_modules needs at least one generated *_pb2 module")
    files = []
    for module in modules:
        descriptor = getattr(module, "DESCRIPTOR", None)
        if descriptor is None or not hasattr(descriptor, "message_types_by_name"):
            raise ProtoSchemaError(f"{module.__name__} is not a generated *_pb2 module (it has no file DESCRIPTOR)")
        files.append(descriptor)
    return ProtoSchema(files[0].pool, tuple(files))
