"""Example messages for consumer tests, made from what an AsyncAPI document declares on a channel.

Values come from the one generator, `pytest_ipc.specs.examples` (the message's own `examples` first,
then its schema's, else generated and seeded), and are written as the message says
(`PayloadChecker.write`: JSON, XML, text, Avro, Protobuf). Avro records come from
`contracts.avro.SampleRecords`; a Protobuf message is generated from the JSON Schema of its JSON
mapping, so the same generator makes it. Every example is checked against its message before it is
returned: an example that would not conform is an error here, not a puzzle in the consumer's test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pytest_ipc.messaging.message import Message
from pytest_ipc.specs.asyncapi import DocumentSource, MessageSpec, asyncapi_channels
from pytest_ipc.specs.document import ApiDocument, SpecError, load_document, pointer_token
from pytest_ipc.specs.examples import ExampleGenerator
from pytest_ipc.specs.payloads import PayloadChecker

if TYPE_CHECKING:
    from google.protobuf.descriptor import Descriptor, FieldDescriptor

    from pytest_ipc.protobuf import ProtoSchema

__all__ = ["example_message"]

_INT32, _UINT32, _JSON_SAFE = 2**31, 2**32 - 1, 2**53
_REPEATED_AT_MOST = 3


def example_message(
    document: DocumentSource,
    channel: str,
    message: str | None = None,
    *,
    seed: int = 0,
    use_examples: bool = True,
    proto: ProtoSchema | None = None,
    proto_types: Mapping[str, str] | None = None,
) -> Message:
    """A message the document allows on `channel` (its id or a concrete address), ready to publish.

    `message` names one of the channel's messages; without it, seed `n` takes the channel's n-th
    message (round robin), so a range of seeds covers them all. The same seed gives the same bytes.
    `use_examples=False` ignores the document's examples and always generates. Header values are
    strings (JSON for other types). `proto`/`proto_types` as for `assert_channel_conforms`."""
    channels = asyncapi_channels(document)
    spec, _ = channels.get(channel)
    if not spec.messages:
        raise SpecError(f"channel {spec.label} of {channels.document.title} declares no messages")
    declared = spec.message(message) if message is not None else spec.messages[seed % len(spec.messages)]
    checker = PayloadChecker(channels.document, declared, proto=proto, proto_type=(proto_types or {}).get(declared.id))
    generator = ExampleGenerator(channels.document, seed=seed, use_examples=use_examples)
    body = _body(checker, generator, declared, seed, use_examples)
    if problems := checker.violations(body):
        raise SpecError(
            f"cannot make an example of message {declared.id!r} on channel {spec.label} that conforms: "
            f"{problems[0].describe()}"
        )
    headers: dict[str, str] = {}
    if declared.headers_pointer is not None:
        made = generator.value(declared.headers_pointer)
        headers = {str(name): value if isinstance(value, str) else json.dumps(value) for name, value in made.items()}
    return Message(body, headers=headers)


def _body(checker: PayloadChecker, generator: ExampleGenerator, declared: MessageSpec, seed: int, use_examples: bool) -> bytes:
    """The payload's bytes: the message's own example when it has a conforming one, else a generated value."""
    if declared.payload_pointer is None:
        return b""
    if use_examples:
        examples = [
            example["payload"]
            for example in generator.document.at(declared.pointer).get("examples") or []
            if isinstance(example, Mapping) and "payload" in example
        ]
        if examples:
            written = checker.write(examples[seed % len(examples)])
            if not checker.violations(written):
                return written
    if checker.avro_schema is not None:
        import fastavro

        from pytest_ipc.contracts.avro import SampleRecords

        parsed = fastavro.parse_schema(checker.avro_schema)
        return checker.write(SampleRecords(parsed, seed).value(parsed, seed))
    if checker.proto_class is not None:
        schemas: dict[str, Any] = {}
        root = _message_schema(cast("Descriptor", checker.proto_class.DESCRIPTOR), schemas)
        mapping = {"asyncapi": "3.0.0", "info": {"title": f"JSON mapping of {checker.proto_class.DESCRIPTOR.full_name}"}}
        json_mapping: ApiDocument = load_document({**mapping, "components": {"schemas": schemas}})
        return checker.write(ExampleGenerator(json_mapping, seed=seed).value(root["$ref"]))
    return checker.write(generator.value(declared.payload_pointer))


def _message_schema(descriptor: Descriptor, schemas: dict[str, Any]) -> dict[str, str]:
    """A `$ref` to the JSON Schema of `descriptor`'s JSON mapping, defined (once) in `schemas`."""
    name = descriptor.full_name
    if name not in schemas:
        schemas[name] = {}  # recursive messages refer to it while it is being made
        properties = {field.name: _field_schema(field, schemas) for field in descriptor.fields}
        schemas[name] = {"type": "object", "properties": properties, "additionalProperties": False}
    return {"$ref": f"#/components/schemas/{pointer_token(name)}"}


def _field_schema(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = _single_schema(field.message_type.fields_by_name["value"], schemas)
        return {"type": "object", "additionalProperties": value, "minProperties": 1, "maxProperties": 2}
    single = _single_schema(field, schemas)
    return {"type": "array", "items": single, "maxItems": _REPEATED_AT_MOST} if field.is_repeated else single


def _single_schema(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    """One value of `field` in Protobuf's JSON mapping (64-bit integers kept where JSON numbers are exact)."""
    from google.protobuf.descriptor import FieldDescriptor as Field

    if field.message_type is not None:
        well_known = {"google.protobuf.Timestamp": {"type": "string", "format": "date-time"}}
        return well_known.get(field.message_type.full_name) or _message_schema(field.message_type, schemas)
    if field.enum_type is not None:
        return {"enum": [value.name for value in field.enum_type.values]}
    kinds: dict[int, dict[str, Any]] = {
        Field.TYPE_BOOL: {"type": "boolean"},
        Field.TYPE_STRING: {"type": "string", "maxLength": 24},
        Field.TYPE_BYTES: {"type": "string", "format": "byte"},
        Field.TYPE_FLOAT: {"type": "number", "minimum": -1e6, "maximum": 1e6},
        Field.TYPE_DOUBLE: {"type": "number", "minimum": -1e9, "maximum": 1e9},
    }
    for signed32 in (Field.TYPE_INT32, Field.TYPE_SINT32, Field.TYPE_SFIXED32):
        kinds[signed32] = {"type": "integer", "minimum": -_INT32, "maximum": _INT32 - 1}
    for unsigned32 in (Field.TYPE_UINT32, Field.TYPE_FIXED32):
        kinds[unsigned32] = {"type": "integer", "minimum": 0, "maximum": _UINT32}
    for signed64 in (Field.TYPE_INT64, Field.TYPE_SINT64, Field.TYPE_SFIXED64):
        kinds[signed64] = {"type": "integer", "minimum": -_JSON_SAFE, "maximum": _JSON_SAFE}
    for unsigned64 in (Field.TYPE_UINT64, Field.TYPE_FIXED64):
        kinds[unsigned64] = {"type": "integer", "minimum": 0, "maximum": _JSON_SAFE}
    return kinds[field.type]
