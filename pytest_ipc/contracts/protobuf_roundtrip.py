"""Protobuf compatibility by doing it: messages written with one version, parsed with the other.

Every message the two versions declare differently (the message, or a message or enum it refers to;
identical ones cannot tell the versions apart) is filled with distinctive values: every field set (nested
messages, repeated fields and maps with two entries, well-known types as the messages they are),
signed integers negative, 64-bit ones beyond 32 bits, unsigned 32-bit ones beyond int32, bytes that
are not UTF-8. Sample `n` sets member `n` of each oneof and the `n`-th non-zero value of each enum,
so every member and value is written once. The reader's copy is compared with what was written,
field by field by number; a parse error, a changed value, or a value that landed in the reader's
unknown fields is a `ROUND_TRIP` finding with the field's path. Fields the reader does not declare
are skipped: their deletion is a rule's business. With `json=True` each message also goes through
protobuf's JSON mapping, read by a tolerant reader (unknown keys ignored, as gateways do); those
findings count for WIRE_JSON and stricter. Timestamps get valid nanoseconds so that JSON can print them;
a message holding an `Any` whose type the pool lacks has no JSON form and is checked in binary only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from pytest_ipc.contracts.compatibility import CATEGORIES, ROUND_TRIP, CompatibilityFinding

if TYPE_CHECKING:
    from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
    from google.protobuf.message import Message

    from pytest_ipc.protobuf import ProtoSchema

MAX_DEPTH = 4  # recursive messages (a Struct holds Values that hold Structs) stop filling here
MAX_SAMPLES = 16
VERSION = {"BACKWARD": ("old", "new"), "FORWARD": ("new", "old")}


def protobuf_round_trip(
    writer: ProtoSchema, reader: ProtoSchema, direction: str, *, json: bool = False
) -> tuple[int, list[CompatibilityFinding]]:
    """Messages written with `writer`, parsed with `reader` (binary, and JSON too if `json`): how many,
    and every corruption seen."""
    written_by, read_by = VERSION[direction]
    readers = {name: message for name, message in reader.messages().items() if not message.GetOptions().map_entry}
    findings: dict[tuple[str, str], CompatibilityFinding] = {}
    checked = 0
    for name, descriptor in writer.messages().items():
        if name not in readers or _shape(descriptor) == _shape(readers[name]):
            continue  # a map entry, a message the reader lacks (a rule's business), or one declared alike
        writer_class, reader_class = writer.message_class(name), reader.message_class(name)
        for index in range(_samples(descriptor)):
            message = writer_class()
            _fill(message, index, 0)
            checked += 1
            for encoding in ("binary", "JSON") if json else ("binary",):
                how = "" if encoding == "binary" else " as JSON"
                categories = CATEGORIES if encoding == "binary" else ("FILE", "PACKAGE", "WIRE_JSON")
                written = f"written by the {written_by} version{how}"
                for location, change, why in _read_back(message, reader_class, encoding, name, written, f"the {read_by} one"):
                    finding = CompatibilityFinding(ROUND_TRIP, location, change, why, (direction,), categories)
                    findings.setdefault((location, encoding), finding)
    return checked, list(findings.values())


def _read_back(
    message: Message, reader_class: type[Message], encoding: str, name: str, written: str, reader: str
) -> Iterator[tuple[str, str, str]]:
    """(location, what changed, why) for each way `reader_class` misreads `message` sent in `encoding`."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    where = f"{_descriptor(message).file.name}:{name}"
    try:
        if encoding == "binary":
            read = reader_class.FromString(message.SerializeToString(deterministic=True))
        else:
            try:
                text = json_format.MessageToJson(message)
            except (json_format.Error, ValueError, TypeError):  # an Any whose type the pool lacks: no JSON to read
                return
            read = json_format.Parse(text, reader_class(), ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError) as error:
        yield where, f"a {name} {written} fails to parse with {reader}: {error}", "every such message is rejected"
        return
    missing = cast(Any, read).FindInitializationErrors()  # not in the type stubs
    if missing:
        why = "readers that check required fields (C++, Java, Go) reject every such message"
        yield where, f"a {name} {written} lacks required field(s) {', '.join(missing)} of {reader}", why
    for field, path, problem in _differences(message, read, name):
        yield _location(field), f"{path} {written} {problem} in {reader}", "readers see something else than was written"


def _shape(descriptor: Descriptor) -> bytes:
    """Everything a reader sees of a message: its declaration and those of every message and enum it
    refers to, transitively, serialized in one deterministic blob."""
    from google.protobuf import descriptor_pb2

    parts: dict[str, bytes] = {}
    pending: list[Descriptor | EnumDescriptor] = [descriptor]
    while pending:
        item = pending.pop()
        if item.full_name in parts:
            continue
        proto: Any = descriptor_pb2.EnumDescriptorProto() if hasattr(item, "values") else descriptor_pb2.DescriptorProto()
        item.CopyToProto(proto)
        parts[item.full_name] = proto.SerializeToString(deterministic=True)
        for field in getattr(item, "fields", ()):
            pending += [kind for kind in (field.message_type, field.enum_type) if kind is not None]
    return b"".join(name.encode() + b"\0" + blob for name, blob in sorted(parts.items()))


def _descriptor(message: Message) -> Descriptor:
    """A message's descriptor (the type stubs mix up the upb and pure-Python classes)."""
    return cast("Descriptor", message.DESCRIPTOR)


def _location(field: FieldDescriptor) -> str:
    """`file:message.field`, as the rules name a field."""
    owner = cast("Descriptor", field.containing_type)
    return f"{owner.file.name}:{owner.full_name}.{field.name}"


def _samples(descriptor: Descriptor) -> int:
    """Enough samples for every oneof member and every non-zero enum value of the message's fields."""
    counts = [len(oneof.fields) for oneof in descriptor.oneofs]
    counts += [len(_enum_values(field)) for field in descriptor.fields if field.enum_type is not None]
    return min(max([1, *counts]), MAX_SAMPLES)


def _enum_values(field: FieldDescriptor) -> list[int]:
    numbers = sorted({value.number for value in cast("EnumDescriptor", field.enum_type).values})
    return [number for number in numbers if number != 0] or numbers


def _fill(message: Message, index: int, depth: int) -> None:
    for field in _descriptor(message).fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.fields[index % len(oneof.fields)].name != field.name:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _fill_map(getattr(message, field.name), field.message_type, index, depth)
        elif field.is_repeated and field.message_type is not None:
            for offset in range(2):
                if depth < MAX_DEPTH:
                    _fill(getattr(message, field.name).add(), index + offset, depth + 1)
        elif field.is_repeated:
            getattr(message, field.name).extend(_scalar(field, index + offset) for offset in range(2))
        elif field.message_type is not None:
            if depth < MAX_DEPTH or oneof is not None:
                child = getattr(message, field.name)
                child.SetInParent()
                if depth < MAX_DEPTH:
                    _fill(child, index, depth + 1)
        else:
            setattr(message, field.name, _scalar(field, index))


def _fill_map(entries: Any, entry: Descriptor, index: int, depth: int) -> None:
    key_field, value_field = entry.fields_by_number[1], entry.fields_by_number[2]
    for offset in range(2):
        key = _key(key_field, offset)
        if value_field.message_type is not None:
            if depth < MAX_DEPTH:
                _fill(entries[key], index + offset, depth + 1)
        else:
            entries[key] = _scalar(value_field, index + offset)


def _key(field: FieldDescriptor, offset: int) -> object:
    kind = field.type
    if kind == field.TYPE_STRING:
        return f"key-{offset}·"
    if kind == field.TYPE_BOOL:
        return offset % 2 == 0
    return 7 + offset


def _scalar(field: FieldDescriptor, index: int) -> object:
    """A value no default and no neighbour has, that shows a misread (sign, width, UTF-8)."""
    base = (field.number % 10_000) * 100 + index + 1
    kind = field.type
    if field.full_name == "google.protobuf.Timestamp.nanos":
        return 1_000 * base  # JSON prints a Timestamp only with nanoseconds in [0, 1e9)
    if kind == field.TYPE_ENUM:
        values = _enum_values(field)
        return values[index % len(values)]
    if kind in (field.TYPE_INT32, field.TYPE_SINT32, field.TYPE_SFIXED32):
        return -base
    if kind in (field.TYPE_INT64, field.TYPE_SINT64, field.TYPE_SFIXED64):
        return -(5_000_000_000 + base)
    if kind in (field.TYPE_UINT32, field.TYPE_FIXED32):
        return 3_000_000_000 + base
    if kind in (field.TYPE_UINT64, field.TYPE_FIXED64):
        return 10_000_000_000 + base
    if kind == field.TYPE_BOOL:
        return True
    if kind == field.TYPE_FLOAT:
        return base + 0.5
    if kind == field.TYPE_DOUBLE:
        return base + 0.25
    if kind == field.TYPE_STRING:
        return f"{field.name}·{index}"
    return b"\xff\xfe" + f"{field.name}-{index}".encode()  # bytes: not UTF-8 on purpose


def _is_set(message: Message, field: FieldDescriptor) -> bool:
    if field.is_repeated:
        return len(getattr(message, field.name)) > 0
    if field.has_presence:
        return message.HasField(field.name)
    return bool(getattr(message, field.name) != field.default_value)


def _differences(written: Message, read: Message, path: str) -> Iterator[tuple[FieldDescriptor, str, str]]:
    """(writer's field, path, what went wrong) for every field `read` does not carry as written."""
    from google.protobuf import unknown_fields

    reader_fields = _descriptor(read).fields_by_number
    unknown_set = unknown_fields.UnknownFieldSet(read)
    unknown = {unknown_set[position].field_number for position in range(len(unknown_set))}
    for field in _descriptor(written).fields:
        counterpart = reader_fields.get(field.number)
        if counterpart is None or not _is_set(written, field):
            continue
        here = f"{path}.{field.name}"
        if not _is_set(read, counterpart):
            landed = "landed in the reader's unknown fields" if field.number in unknown else "reads as unset"
            yield field, here, f"(#{field.number}) {landed}"
            continue
        yield from _value_differences(getattr(written, field.name), field, getattr(read, counterpart.name), counterpart, here)


def _value_differences(
    written: Any, field: FieldDescriptor, read: Any, counterpart: FieldDescriptor, path: str
) -> Iterator[tuple[FieldDescriptor, str, str]]:
    map_written = field.message_type is not None and field.message_type.GetOptions().map_entry
    map_read = counterpart.message_type is not None and counterpart.message_type.GetOptions().map_entry
    if map_written and map_read:
        if {_plain(key) for key in written} != {_plain(key) for key in read}:
            yield field, path, f"has keys {sorted(map(repr, written))}, read as {sorted(map(repr, read))}"
            return
        keys = {_plain(key): key for key in read}
        value_field = cast("Descriptor", field.message_type).fields_by_number[2]
        read_value_field = cast("Descriptor", counterpart.message_type).fields_by_number[2]
        for key in written:
            yield from _single(written[key], value_field, read[keys[_plain(key)]], read_value_field, f"{path}[{key!r}]")
        return
    if map_written or map_read or field.is_repeated or counterpart.is_repeated:
        items_written = list(written) if field.is_repeated else [written]
        items_read = list(read) if counterpart.is_repeated else [read]
        if len(items_written) != len(items_read):
            yield field, path, f"had {len(items_written)} item(s), read as {len(items_read)}"
            return
        if map_written or map_read:
            return  # a map read as a list of entries, or back: the count is what can be compared
        for position, (one, other) in enumerate(zip(items_written, items_read, strict=True)):
            yield from _single(one, field, other, counterpart, f"{path}[{position}]")
        return
    yield from _single(written, field, read, counterpart, path)


def _single(
    written: Any, field: FieldDescriptor, read: Any, counterpart: FieldDescriptor, path: str
) -> Iterator[tuple[FieldDescriptor, str, str]]:
    if field.message_type is not None and counterpart.message_type is not None:
        yield from _differences(written, read, path)
    elif _plain(written) != _plain(read):
        yield field, path, f"{_shown(written)} read as {_shown(read)}"


def _plain(value: Any) -> Any:
    """One form for values the wire does not tell apart: bool and int, str and its UTF-8 bytes."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return value.encode()
    if hasattr(value, "SerializeToString"):
        return value.SerializeToString(deterministic=True)
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
