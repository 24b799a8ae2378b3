"""Validating values against the schemas of an API document, in the document's own dialect.

The one owner of "does this value conform": request and response bodies and parameters (OpenAPI),
message payloads (AsyncAPI), pact bodies checked against a provider's spec. OpenAPI 3.0 schemas are
JSON Schema draft 4 plus `nullable`; 3.1 ones are draft 2020-12; AsyncAPI payloads are draft 7. A
validator is built for a JSON pointer into the document, so a violation says where in the value it
is (`$.items[0].price`) and which schema it broke (`#/components/schemas/Pet/...`). A validator
for one direction of an exchange applies OpenAPI's `readOnly`/`writeOnly`: a required property that
is read-only need not be sent in a request, nor a write-only one in a response.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pytest_ipc._optional import require
from pytest_ipc.specs.document import ApiDocument, SpecError

_ROOT = "urn:pytest-ipc:document"
_LONGEST_MESSAGE = 240

Direction = Literal["request", "response"]
#: The property flag that excuses a missing required property, per direction.
_EXCUSED_BY: dict[Direction, str] = {"request": "readOnly", "response": "writeOnly"}


@dataclass(frozen=True)
class SchemaViolation:
    """One way a value breaks its schema: where in the value, which schema rule, and what is wrong."""

    path: str  # in the value: "$", "$.items[0].price"
    schema_path: str  # in the document: "#/components/schemas/Pet/properties/price/type"
    message: str

    def describe(self) -> str:
        """One line for a failure message."""
        return f"{self.path}: {self.message} (schema {self.schema_path})"


class SchemaValidator:
    """Validates values against the schema at `pointer` in `document` (built once, used many times);
    with a `direction`, `readOnly` (request) or `writeOnly` (response) required properties may be absent."""

    def __init__(self, document: ApiDocument, pointer: str, *, direction: Direction | None = None) -> None:
        self.document = document
        self.pointer = pointer if pointer.startswith("#") else f"#{pointer}"
        self.direction = direction
        document.at(self.pointer)  # fails now, with the document's name, if the pointer leads nowhere
        jsonschema = require("jsonschema", extra="openapi", feature="schema validation")
        validator_class, registry = _registry_for(document)
        target = f"{_base_uri(document)}{self.pointer}"
        self._validator = validator_class({"$ref": target}, registry=registry, format_checker=jsonschema.FormatChecker())
        # The schema behind the pointer, found once: following the `$ref` on every call costs more than
        # checking a small value against what it points at.
        self._target = registry.resolver(base_uri=_base_uri(document)).lookup(target)
        self._error_type = jsonschema.ValidationError

    def violations(self, value: Any) -> list[SchemaViolation]:
        """Every violation, ordered by where in the value it is; empty when `value` conforms."""
        found = []
        for error in sorted(self._errors(value), key=lambda error: [str(part) for part in error.absolute_path]):
            if self._excused(error):
                continue
            rule = [str(part) for part in error.relative_schema_path]
            if rule and rule[0] == "$ref":
                rule = rule[1:]
            message = error.message if len(error.message) <= _LONGEST_MESSAGE else f"{error.message[:_LONGEST_MESSAGE]}..."
            found.append(SchemaViolation(error.json_path, "/".join([self.pointer, *rule]), message))
        return found

    def is_valid(self, value: Any) -> bool:
        """Whether `value` conforms (cheaper than `violations` when it does)."""
        return next(self._errors(value), None) is None or (self.direction is not None and not self.violations(value))

    def _errors(self, value: Any) -> Iterator[Any]:
        return self._validator.descend(value, self._target.contents, resolver=self._target.resolver)  # type: ignore[no-any-return]

    def _excused(self, error: Any) -> bool:
        """An error this direction does not count: a missing required property that it does not carry
        (`readOnly` in a request), or an `anyOf`/`oneOf` that one branch passes but for such errors."""
        if self.direction is None:
            return False
        if error.validator in ("anyOf", "oneOf") and error.context:
            by_branch: dict[Any, list[Any]] = {}
            for inner in error.context:
                by_branch.setdefault(inner.relative_schema_path[0], []).append(inner)
            return any(all(self._excused(inner) for inner in errors) for errors in by_branch.values())
        if error.validator != "required" or not isinstance(error.schema, Mapping):
            return False
        properties = error.schema.get("properties")
        if not isinstance(properties, Mapping):
            return False
        for name in error.validator_value:
            if error.message == f"{name!r} is a required property":
                schema = properties.get(name)
                if isinstance(schema, Mapping) and str(schema.get("$ref", "#")).startswith("#"):
                    try:
                        schema = self.document.resolve(schema)
                    except SpecError:  # a reference local to another file: not excused
                        return False
                return isinstance(schema, Mapping) and schema.get(_EXCUSED_BY[self.direction]) is True
        return False


def _base_uri(document: ApiDocument) -> str:
    return _ROOT if document.source.startswith("<") else Path(document.source).as_uri()


@cache
def _dialects() -> dict[str, tuple[Any, Any]]:
    """Dialect -> (validator class, referencing specification)."""
    jsonschema = require("jsonschema", extra="openapi", feature="schema validation")
    from referencing import jsonschema as specifications

    draft4 = (jsonschema.Draft4Validator, specifications.DRAFT4)
    draft7 = (jsonschema.Draft7Validator, specifications.DRAFT7)
    draft2020 = (jsonschema.Draft202012Validator, specifications.DRAFT202012)
    return {"openapi-3.0": draft4, "openapi-3.1": draft2020, "asyncapi-2.6": draft7, "asyncapi-3.0": draft7}


def _registry_for(document: ApiDocument) -> tuple[Any, Any]:
    """The validator class and a registry holding the document (and files it refers to), built once
    per document (in the document's own cache, so it goes with the document)."""
    return document.derived("schema-registry", document.raw, lambda _: _new_registry(document))


def _new_registry(document: ApiDocument) -> tuple[Any, Any]:
    from referencing import Registry

    dialect = document.dialect
    if dialect not in _dialects():
        raise SpecError(f"{document.source}: no schema dialect for {dialect}; known: {', '.join(_dialects())}")
    validator_class, specification = _dialects()[dialect]
    nullable = dialect == "openapi-3.0"

    def resource(contents: Any) -> Any:
        return specification.create_resource(_with_nullable(contents) if nullable else contents)

    def retrieve(uri: str) -> Any:
        if not uri.startswith("file://"):
            raise SpecError(f"{document.source}: cannot follow a $ref to {uri} (only files beside the document)")
        return resource(document._file(Path(uri.removeprefix("file://"))))

    registry = Registry(retrieve=retrieve).with_resource(_base_uri(document), resource(document.raw))  # type: ignore[call-arg]  # attrs field
    return validator_class, registry


def _with_nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: null joins the allowed types and enum values."""
    if isinstance(node, list):
        return [_with_nullable(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    converted = {key: _with_nullable(value) for key, value in node.items()}
    if converted.get("nullable") is True:
        kind = converted.get("type")
        if isinstance(kind, str):
            converted["type"] = [kind, "null"]
        if isinstance(converted.get("enum"), list) and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        if "type" not in converted and "$ref" in converted:
            converted = {"anyOf": [{"type": "null"}, {key: value for key, value in converted.items() if key != "nullable"}]}
    return converted


_INTEGER = re.compile(r"[-+]?[0-9]+")


def text_value(text: str, kind: str | None) -> Any:
    """`text` (a parameter, an XML element, a header) as the JSON type `kind` when it reads as one, and
    as it is otherwise, so the schema reports it: the one reading of text for the stub, pacts and payloads."""
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number":
        try:
            return int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:
            return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "null" and text == "":
        return None
    return text
