"""Reading a message's bytes the way its AsyncAPI message says, and checking them (the one owner of both).

What the bytes are depends on the message's schema format and content type:

- a JSON Schema payload (the default) reads JSON (`application/json`, `*/*+json`), XML
  (`application/xml`, `text/xml`, `*/*+xml`) or text (`text/plain`) and is validated by `SchemaValidator`;
- an Avro payload (`schemaFormat: application/vnd.apache.avro;version=...`) is one record in Avro's
  binary encoding (or Avro's JSON form under a JSON content type), read with fastavro;
- a Protobuf payload (`schemaFormat: application/vnd.google.protobuf;version=3`) is one message in the
  binary wire format (or its JSON mapping), read through `pytest_ipc.protobuf`. The payload is the
  `.proto` source, or, when the caller passes a compiled `ProtoSchema`, the name of a message type in it;
  the message type is the one the caller names, else the one top-level message no other one uses.
  Unknown fields are violations: they mean the bytes were written with another message type.

XML maps onto the schema's properties: the root element is the payload (its name is not checked); each
attribute and each child element is the property of its (namespace-free) name; a child element that
repeats, or whose property is an array, gives a list (a single element wrapping the items, as in
`<zones><zone>1</zone></zones>`, also does); text becomes the integer, number or boolean its schema
declares when it reads as one, and stays a string otherwise, so the schema reports it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ipc._optional import require
from pytest_ipc.specs.asyncapi import MessageSpec
from pytest_ipc.specs.document import ApiDocument, SpecError
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation, text_value

if TYPE_CHECKING:
    from xml.etree import ElementTree

    from google.protobuf.message import Message as ProtoMessage

    from pytest_ipc.protobuf import ProtoSchema

__all__ = ["PayloadChecker", "xml_value"]

READERS = {
    "json": ("application/json", "text/json", "+json"),
    "xml": ("application/xml", "text/xml", "+xml"),
    "text": ("text/plain",),
}


def reader_of(content_type: str) -> str:
    """"json", "xml" or "text" for a content type; a `SpecError` lists the ones that can be read."""
    base = content_type.split(";")[0].strip().lower()
    for reader, endings in READERS.items():
        if any(base == ending or (ending.startswith("+") and base.endswith(ending)) for ending in endings):
            return reader
    known = ", ".join(ending if not ending.startswith("+") else f"*/*{ending}" for endings in READERS.values() for ending in endings)
    raise SpecError(f"content type {content_type!r} cannot be read as a JSON Schema payload; readable: {known}")


class PayloadChecker:
    """Reads, writes and checks the payloads of one message of a document (built once, used many times)."""

    def __init__(
        self, document: ApiDocument, message: MessageSpec, *, proto: ProtoSchema | None = None, proto_type: str | None = None
    ) -> None:
        self.document = document
        self.message = message
        self.where = message.payload_pointer or message.pointer
        self._validator: SchemaValidator | None = None
        self._avro_schema: Any = None
        self._proto_class: type[ProtoMessage] | None = None
        kind = message.payload_format
        if message.payload_pointer is None:
            return
        if kind == "jsonschema":
            self._reader = reader_of(message.content_type)
            self._validator = SchemaValidator(document, message.payload_pointer)
        elif kind == "avro":
            fastavro = require("fastavro", extra="contracts", feature="Avro payloads")
            self._avro_schema = fastavro.parse_schema(_plain(document.resolve(document.at(message.payload_pointer))))
        else:
            self._proto_class = _proto_class(document.at(message.payload_pointer), message, proto, proto_type)

    @property
    def payload_type(self) -> str:
        """What the payload is read as, for failure messages: "JSON", "Avro smartylighting.PowerMeasured"..."""
        if self._proto_class is not None:
            return f"Protobuf message {self._proto_class.DESCRIPTOR.full_name}"
        if self._avro_schema is not None:  # parsed: a named type's name is its full name
            named = isinstance(self._avro_schema, Mapping) and "name" in self._avro_schema
            return f"Avro {self._avro_schema['name'] if named else 'value'}"
        return {"json": "JSON", "xml": "XML", "text": "text"}[self._reader] if self._validator is not None else "bytes"

    @property
    def avro_schema(self) -> Any:
        """The Avro schema of an Avro payload (as fastavro parsed it), else None."""
        return self._avro_schema

    @property
    def proto_class(self) -> type[ProtoMessage] | None:
        """The message class of a Protobuf payload, else None."""
        return self._proto_class

    def write(self, value: Any) -> bytes:
        """`value` as the message's bytes: the reverse of `read` (for Protobuf, `value` is the message or
        its JSON mapping as a dict)."""
        if self._proto_class is not None:
            return _write_proto(value, self._proto_class, self.message.content_type)
        if self._avro_schema is not None:
            from pytest_ipc.contracts.avro import write_record

            return json.dumps(value).encode() if _is_json(self.message.content_type) else write_record(value, self._avro_schema)
        if self._validator is None:
            return bytes(value) if isinstance(value, bytes) else json.dumps(value).encode()
        if self._reader == "json":
            return json.dumps(value).encode()
        if self._reader == "xml":
            from xml.etree import ElementTree

            schema = self.document.resolve(self.document.at(self.message.payload_pointer or ""))
            named = schema.get("xml", {}).get("name") if isinstance(schema.get("xml"), Mapping) else None
            root = ElementTree.Element(str(named or self.message.name or self.message.id))
            _xml_fill(root, value, schema, self.document)
            return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=False))
        return str(value).encode()

    def read(self, body: bytes) -> Any:
        """The payload as a value: JSON, XML mapped onto the schema, text, an Avro record or a Protobuf message.

        A `ValueError` says why the bytes cannot be read."""
        if self._proto_class is not None:
            return _read_proto(body, self._proto_class, self.message.content_type)
        if self._avro_schema is not None:
            return _read_avro(body, self._avro_schema, self.message.content_type)
        if self._validator is None:
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"not UTF-8 text: {error}") from None
        if self._reader == "json":
            try:
                return json.loads(text)
            except ValueError as error:
                raise ValueError(str(error)) from None
        if self._reader == "xml":
            from xml.etree import ElementTree

            try:
                root = ElementTree.fromstring(text)
            except ElementTree.ParseError as error:
                raise ValueError(f"not well-formed: {error}") from None
            return xml_value(root, self.document.at(self.message.payload_pointer or ""), self.document)
        return text

    def violations(self, body: bytes) -> list[SchemaViolation]:
        """Every way `body` breaks the message's payload schema; empty when it conforms."""
        try:
            value = self.read(body)
        except ValueError as error:
            return [SchemaViolation("$", self.where, f"payload cannot be read as {self.payload_type}: {error}")]
        if self._proto_class is not None:
            return [SchemaViolation(path, self.where, problem) for path, problem in _unknown_fields(value, "$")]
        if self._avro_schema is not None or self._validator is None or self._validator.is_valid(value):
            return []
        return self._validator.violations(value)


# -- XML -----------------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _type_of(schema: Any) -> str | None:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(kind, list):
        kind = next((each for each in kind if each != "null"), None)
    if kind is None and isinstance(schema, Mapping) and "properties" in schema:
        return "object"
    return kind if isinstance(kind, str) else None


def xml_value(element: ElementTree.Element, schema: Any, document: ApiDocument) -> Any:
    """`element` as the value `schema` describes (see the module's docstring for the mapping)."""
    schema = document.resolve(schema) if isinstance(schema, Mapping) else {}
    kind = _type_of(schema)
    children = list(element)
    if kind == "array":
        items = schema.get("items", {})
        return [xml_value(child, items, document) for child in children]
    if kind != "object" and not children and not element.attrib:
        return text_value((element.text or "").strip(), kind)
    properties = schema.get("properties") or {}
    value: dict[str, Any] = {
        name: text_value(text, _type_of(document.resolve(properties.get(name, {})))) for name, text in element.attrib.items()
    }
    grouped: dict[str, list[ElementTree.Element]] = {}
    for child in children:
        grouped.setdefault(_local(child.tag), []).append(child)
    for name, elements in grouped.items():
        prop = document.resolve(properties.get(name, {}))
        if _type_of(prop) == "array" or len(elements) > 1:
            items = prop.get("items", {}) if isinstance(prop, Mapping) else {}
            if len(elements) == 1 and not (elements[0].text or "").strip() and not elements[0].attrib:
                elements = list(elements[0])  # a wrapper element around the items (none: an empty list)
            value[name] = [xml_value(each, items, document) for each in elements]
        else:
            value[name] = xml_value(elements[0], prop, document)
    return value


def _xml_fill(element: ElementTree.Element, value: Any, schema: Any, document: ApiDocument) -> None:
    """Write `value` into `element`, the reverse of `xml_value`: properties become child elements (or
    attributes where their schema says `xml: {attribute: true}`), lists repeat the element."""
    from xml.etree import ElementTree

    schema = document.resolve(schema) if isinstance(schema, Mapping) else {}
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        for name, each in value.items():
            prop = document.resolve(properties.get(name, {}))
            xml = prop.get("xml") if isinstance(prop, Mapping) else None
            if isinstance(xml, Mapping) and xml.get("attribute") and not isinstance(each, Mapping | list):
                element.set(str(name), _text(each))
            elif isinstance(each, list):
                items = prop.get("items", {}) if isinstance(prop, Mapping) else {}
                if not each:
                    ElementTree.SubElement(element, str(name))  # an empty list is one empty element
                for item in each:
                    _xml_fill(ElementTree.SubElement(element, str(name)), item, items, document)
            else:
                _xml_fill(ElementTree.SubElement(element, str(name)), each, prop, document)
    elif isinstance(value, list):
        items = schema.get("items", {})
        for item in value:
            _xml_fill(ElementTree.SubElement(element, "item"), item, items, document)
    elif value is not None:
        element.text = _text(value)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# -- Avro ----------------------------------------------------------------------------------------------
def _read_avro(body: bytes, schema: Any, content_type: str) -> Any:
    from pytest_ipc.contracts.avro import read_record, validate_record

    if _is_json(content_type):
        try:
            record = json.loads(body)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
        if problems := validate_record(record, schema):
            raise ValueError("; ".join(problems))
        return record
    return read_record(body, schema)


def _plain(node: Any) -> Any:
    """A schema as plain dicts and lists (fastavro wants them; YAML may give other mappings)."""
    if isinstance(node, Mapping):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _is_json(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return base.endswith(("/json", "+json"))


# -- Protobuf ------------------------------------------------------------------------------------------
def _proto_class(payload: Any, message: MessageSpec, proto: ProtoSchema | None, proto_type: str | None) -> type[ProtoMessage]:
    """The message class for a Protobuf payload: from the caller's schema, or the `.proto` in the document."""
    if proto is None:
        if not isinstance(payload, str) or "message " not in payload:
            raise SpecError(
                f"message {message.id!r} has a Protobuf payload but no .proto source in the document; pass the "
                "compiled schema (proto=compile_proto(...)) and name the message type in the payload or in proto_types"
            )
        proto = _compiled_text(payload)
    elif proto_type is None and isinstance(payload, str) and "message " not in payload:
        proto_type = payload.strip()
    return proto.message_class(proto_type or _root_message(proto, message))


@cache
def _compiled_text(source: str) -> ProtoSchema:
    """A `.proto` given as text in the document, compiled once per session (from a temporary file)."""
    from pytest_ipc.protobuf import compile_proto

    with tempfile.TemporaryDirectory(prefix="pytest-ipc-asyncapi-") as folder:
        path = Path(folder) / "payload.proto"
        path.write_text(source if "syntax" in source else f'syntax = "proto3";\n{source}', encoding="utf-8")
        return compile_proto(path)


def _root_message(proto: ProtoSchema, message: MessageSpec) -> str:
    """The one top-level message of the files that no other message uses as a field's type."""
    top = [descriptor for file in proto.files for descriptor in file.message_types_by_name.values()]
    used = {
        field.message_type.full_name
        for descriptor in proto.messages().values()
        for field in descriptor.fields
        if field.message_type is not None
    }
    roots = [descriptor.full_name for descriptor in top if descriptor.full_name not in used]
    if len(roots) != 1:
        raise SpecError(
            f"message {message.id!r}: which Protobuf message type is its payload? candidates: {', '.join(roots) or 'none'}; "
            f"name it with proto_types={{{message.id!r}: '<message type>'}}"
        )
    return roots[0]


def _read_proto(body: bytes, message_class: type[ProtoMessage], content_type: str) -> ProtoMessage:
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    decoded = message_class()
    if _is_json(content_type):
        try:
            json_format.Parse(body, decoded)
        except json_format.ParseError as error:
            raise ValueError(str(error)) from None
        return decoded
    try:
        decoded.ParseFromString(body)
    except DecodeError as error:
        raise ValueError(f"the bytes do not parse ({error})") from None
    return decoded


def _write_proto(value: Any, message_class: type[ProtoMessage], content_type: str) -> bytes:
    from google.protobuf import json_format

    decoded = value if isinstance(value, message_class) else json_format.ParseDict(value, message_class())
    return json_format.MessageToJson(decoded).encode() if _is_json(content_type) else decoded.SerializeToString()


def _unknown_fields(decoded: ProtoMessage, path: str) -> list[tuple[str, str]]:
    """Where `decoded` (and the messages in it) holds fields its type does not declare."""
    from google.protobuf.descriptor import FieldDescriptor
    from google.protobuf.unknown_fields import UnknownFieldSet

    found = []
    unknown = UnknownFieldSet(decoded)
    if len(unknown):
        numbers = ", ".join(f"{unknown[index].field_number} (wire type {unknown[index].wire_type})" for index in range(len(unknown)))
        found.append(
            (path, f"unknown field(s) {numbers} for {decoded.DESCRIPTOR.full_name}: written with another message type or schema")
        )
    for field, value in decoded.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = [(f"{path}.{field.name}[{key!r}]", each) for key, each in value.items() if hasattr(each, "DESCRIPTOR")]
        elif field.is_repeated:
            items = [(f"{path}.{field.name}[{index}]", each) for index, each in enumerate(value)]
        else:
            items = [(f"{path}.{field.name}", value)]
        for where, each in items:
            found.extend(_unknown_fields(each, where))
    return found
