"""One loaded OpenAPI or AsyncAPI document, and how its `$ref`s resolve (the one owner of both).

A document comes from a path (YAML or JSON), a string holding YAML or JSON, or a mapping already in
memory. References are followed on demand: local ones (`#/components/schemas/Pet`) and ones into
files beside it (`common.yaml#/Error`), each loaded once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._optional import require

Kind = Literal["openapi", "asyncapi"]
KINDS: tuple[Kind, ...] = ("openapi", "asyncapi")
SUPPORTED = {"openapi": ("3.0", "3.1"), "asyncapi": ("2.6", "3.0")}


class SpecError(IpcUsageError):
    """A document that cannot be read or does not say what it is, or a reference that leads nowhere."""


@dataclass(frozen=True)
class ApiDocument:
    """A loaded document: its content, where it came from, and which kind and version it is."""

    raw: Mapping[str, Any]
    source: str  # a path, or "<mapping>" / "<text>"
    kind: Kind
    version: str  # as the document writes it ("3.0.3", "2.6.0")
    _files: dict[Path, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dialect(self) -> str:
        """The kind and major.minor version: "openapi-3.0", "openapi-3.1", "asyncapi-2.6", "asyncapi-3.0"."""
        return f"{self.kind}-{'.'.join(self.version.split('.')[:2])}"

    @property
    def title(self) -> str:
        """`info.title`, or the source when the document has none."""
        info = self.raw.get("info")
        return str(info.get("title")) if isinstance(info, Mapping) and info.get("title") else self.source

    def at(self, pointer: str) -> Any:
        """The node at a JSON pointer ("#/paths/~1pets/get"), following a `$ref` there."""
        return self.resolve({"$ref": pointer if pointer.startswith("#") else f"#{pointer}"})

    def resolve(self, node: Any) -> Any:
        """`node` itself, or what its `$ref` (and theirs, in turn) points at."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"{self.source}: reference cycle through {ref}")
            seen.add(ref)
            node = self._target(ref)
        return node

    def _target(self, ref: str) -> Any:
        location, _, fragment = ref.partition("#")
        root: Any = self.raw if not location else self._file(location)
        node = root
        for token in [unquote(part).replace("~1", "/").replace("~0", "~") for part in fragment.split("/") if part]:
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SpecError(f"{self.source}: $ref {ref!r} leads nowhere ({token!r} is missing)")
        return node

    def _file(self, location: str | Path) -> Mapping[str, Any]:
        """A file the document refers to, relative to the document's folder, parsed once."""
        if self.source.startswith("<"):
            raise SpecError(f"{self.source}: $ref into file {location!r}, but the document was not loaded from a file")
        path = (Path(self.source).parent / location).resolve()
        if path not in self._files:
            self._files[path] = _parse(_read(path), str(path))
        return self._files[path]


def load_document(source: str | os.PathLike[str] | Mapping[str, Any]) -> ApiDocument:
    """Load an OpenAPI 3.0/3.1 or AsyncAPI 2.6/3.0 document from a path, YAML/JSON text or a mapping."""
    if isinstance(source, ApiDocument):
        return source
    if isinstance(source, Mapping):
        raw, where = source, "<mapping>"
    elif isinstance(source, os.PathLike) or (isinstance(source, str) and _names_a_file(source)):
        path = Path(source).resolve()
        raw, where = _parse(_read(path), str(path)), str(path)
    elif isinstance(source, str):
        raw, where = _parse(source, "<text>"), "<text>"
    else:
        raise SpecError(f"an API document is a path, YAML or JSON text, or a mapping; got {type(source).__name__}")
    for kind in KINDS:
        if kind in raw:
            version = str(raw[kind])
            if not any(version == wanted or version.startswith(f"{wanted}.") for wanted in SUPPORTED[kind]):
                raise SpecError(f"{where}: {kind} {version} is not supported; supported: {', '.join(SUPPORTED[kind])}")
            return ApiDocument(raw, where, kind, version)
    raise SpecError(f"{where}: not an OpenAPI or AsyncAPI document (no top-level 'openapi' or 'asyncapi' field)")


def _names_a_file(text: str) -> bool:
    """A one-line string that exists as a file or ends like a document's file name is a path."""
    if "\n" in text or text.lstrip().startswith(("{", "[")):  # JSON on one line is text, however long
        return False
    try:
        return text.endswith((".yaml", ".yml", ".json")) or Path(text).is_file()
    except OSError:  # a name too long for the file system is no file
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"cannot read API document {path}: {error.strerror or error}") from error


def _parse(text: str, where: str) -> Mapping[str, Any]:
    """JSON when it parses as JSON, else YAML (a superset, but much slower to parse)."""
    try:
        parsed = json.loads(text)
    except ValueError:
        yaml = require("yaml", extra="openapi", feature="YAML API documents")
        try:
            parsed = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as error:
            raise SpecError(f"{where} is neither JSON nor valid YAML: {error}") from error
    if not isinstance(parsed, Mapping):
        raise SpecError(f"{where}: an API document is a mapping at the top, got {type(parsed).__name__}")
    return parsed
