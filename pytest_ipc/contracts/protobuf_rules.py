"""Breaking changes between two compiled `.proto` versions, by buf's breaking-change rules.

Types are matched by full name across the files given (moving one between files is not a change),
fields by number, enum values by number, RPCs by name. One change gives one finding, under the most
lenient rule that catches it, with every category that counts it: a deleted field whose number is
not reserved is FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED (FILE, PACKAGE, WIRE_JSON, WIRE); with its
number reserved and not its name it is FIELD_NO_DELETE_UNLESS_NAME_RESERVED (FILE, PACKAGE,
WIRE_JSON). Type and cardinality changes are judged per direction, since string → bytes is safe
for a new reader and not for an old one.

Two departures from buf, both because a pytest-ipc user tests running services: a deleted service
or RPC also breaks WIRE (old clients get UNIMPLEMENTED); and two rules buf does not have, advice
unless said otherwise: ENUM_VALUE_ADDED (old readers get a number they cannot name, and drop the
name JSON writes: a WIRE_JSON break; with a closed enum they drop the number too, a WIRE break) and
RPC_ADDED (new clients calling an old server).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pytest_ipc.contracts.compatibility import BACKWARD, BOTH, CATEGORIES, FORWARD, CompatibilityFinding

if TYPE_CHECKING:
    from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, ServiceDescriptor

    from pytest_ipc.protobuf import ProtoSchema

SOURCE = ("FILE", "PACKAGE")
JSON = ("FILE", "PACKAGE", "WIRE_JSON")
WIRE_GROUPS = (
    {"int32", "int64", "uint32", "uint64", "bool", "enum"},
    {"sint32", "sint64"},
    {"fixed32", "sfixed32"},
    {"fixed64", "sfixed64"},
)
JSON_GROUPS = ({"int32", "uint32"}, {"int64", "uint64"}, {"fixed32", "sfixed32"}, {"fixed64", "sfixed64"})
SCALARS = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    10: "group",
    11: "message",
    12: "bytes",
    13: "uint32",
    14: "enum",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}  # FieldDescriptor.TYPE_* → the name written in a .proto
Reservations = tuple[list[tuple[int, int]], set[str]]  # number ranges (end exclusive) and names
RESERVE_HINT = 'reserve it instead (`reserved {number}; reserved "{name}";`) or keep it deprecated'


def protobuf_breaking_changes(old: ProtoSchema, new: ProtoSchema) -> list[CompatibilityFinding]:
    """Every change from `old` to `new` that some rule counts, in every direction and category."""
    return [*_files(old, new), *_messages(old, new), *_enums(old, new), *_services(old, new)]


# -- files and packages ------------------------------------------------------------------------------
def _files(old: ProtoSchema, new: ProtoSchema) -> Iterator[CompatibilityFinding]:
    new_files = {file.name: file for file in new.files}
    for file in old.files:
        if file.name not in new_files:
            yield CompatibilityFinding(
                "FILE_NO_DELETE", file.name, "file deleted", "code generated from it no longer exists", BOTH, ("FILE",)
            )
        elif new_files[file.name].package != file.package:
            change = f"package changed from {file.package!r} to {new_files[file.name].package!r}"
            why = "every type's full name changes, so do gRPC method paths (/package.Service/Method) and Any type URLs"
            yield CompatibilityFinding("FILE_SAME_PACKAGE", file.name, change, why, BOTH, CATEGORIES)
    new_packages = {file.package for file in new.files}
    for package in sorted({file.package for file in old.files} - new_packages):
        where = next(file.name for file in old.files if file.package == package)
        yield CompatibilityFinding("PACKAGE_NO_DELETE", where, f"package {package!r} deleted", "code that imports it breaks", BOTH, SOURCE)


# -- messages and fields -----------------------------------------------------------------------------
def _messages(old: ProtoSchema, new: ProtoSchema) -> Iterator[CompatibilityFinding]:
    new_messages = _real_messages(new)
    for name, before in _real_messages(old).items():
        where = f"{before.file.name}:{name}"
        if name not in new_messages:
            why = "code that uses it breaks, and fields of this type are gone too; deprecate it instead"
            yield CompatibilityFinding("MESSAGE_NO_DELETE", where, "message deleted", why, BOTH, SOURCE)
            continue
        after = new_messages[name]
        yield from _reserved(_reservations(before), _reservations(after), where, "RESERVED_MESSAGE_NO_DELETE", "field")
        new_oneofs = {oneof.name for oneof in after.oneofs if not _synthetic(oneof.fields)}
        for oneof in before.oneofs:
            if not _synthetic(oneof.fields) and oneof.name not in new_oneofs:
                yield CompatibilityFinding(
                    "ONEOF_NO_DELETE", f"{where}.{oneof.name}", "oneof deleted", "generated code has a type per oneof", BOTH, SOURCE
                )
        for number, field in before.fields_by_number.items():
            if number in after.fields_by_number:
                yield from _field_changes(field, after.fields_by_number[number], f"{where}.{field.name}")
            else:
                yield from _field_deleted(field, after, f"{where}.{field.name}")
        for number, field in after.fields_by_number.items():
            if number not in before.fields_by_number and _cardinality(field) == "required":
                why = "old writers never set it, and new readers reject a message without it"
                yield CompatibilityFinding(
                    "MESSAGE_SAME_REQUIRED_FIELDS", f"{where}.{field.name}", f"required field {number} added", why, BACKWARD, CATEGORIES
                )


def _real_messages(schema: ProtoSchema) -> dict[str, Descriptor]:
    """The messages a user declared: not the entries protoc makes for map fields."""
    return {name: message for name, message in schema.messages().items() if not message.GetOptions().map_entry}


def _field_deleted(field: FieldDescriptor, after: Descriptor, where: str) -> Iterator[CompatibilityFinding]:
    numbers, names = _reservations(after)
    change = f"field {field.number} ({_type(field)} {field.name}) deleted"
    hint = RESERVE_HINT.format(number=field.number, name=field.name)
    if not any(start <= field.number < end for start, end in numbers):
        why = f"a later field may reuse number {field.number} with another type and misread old data; {hint}"
        yield CompatibilityFinding("FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", where, change, why, BOTH, CATEGORIES)
    elif field.name not in names:
        why = f"JSON readers and writers still use the name {field.name!r}; reserve the name too"
        yield CompatibilityFinding("FIELD_NO_DELETE_UNLESS_NAME_RESERVED", where, change, why, BOTH, JSON)
    else:
        yield CompatibilityFinding("FIELD_NO_DELETE", where, change, "generated code loses the field", BOTH, SOURCE)
    if _cardinality(field) == "required":
        why = "new writers never set it, and old readers reject a message without it"
        yield CompatibilityFinding(
            "MESSAGE_SAME_REQUIRED_FIELDS", where, f"required field {field.number} deleted", why, FORWARD, CATEGORIES
        )


def _field_changes(before: FieldDescriptor, after: FieldDescriptor, where: str) -> Iterator[CompatibilityFinding]:
    renamed = before.name != after.name
    if renamed:
        change = f"field {before.number} renamed from {before.name!r} to {after.name!r}"
        why = "the binary encoding is unchanged, but JSON uses the name and generated code the accessor"
        yield CompatibilityFinding("FIELD_SAME_NAME", where, change, why, BOTH, JSON)
    elif before.json_name != after.json_name:
        change = f"field {before.number} JSON name changed from {before.json_name!r} to {after.json_name!r}"
        yield CompatibilityFinding("FIELD_SAME_JSON_NAME", where, change, "JSON readers look for the old key", BOTH, JSON)
    yield from _cardinality_change(before, after, where)
    was, now = _cardinality(before), _cardinality(after)
    if was == now or "map" not in (was, now):  # to or from a map, the cardinality finding says it all
        yield from _type_change(before, after, where, renamed)
    oneof_before, oneof_after = _oneof(before), _oneof(after)
    if oneof_before != oneof_after:
        change = f"field {before.number} moved from {_oneof_words(oneof_before)} to {_oneof_words(oneof_after)}"
        why = "setting one member of a oneof clears the others, so readers and writers disagree on which fields survive"
        yield CompatibilityFinding("FIELD_SAME_ONEOF", where, change, why, BOTH, CATEGORIES)
    if (before.has_default_value or after.has_default_value) and before.default_value != after.default_value:
        change = f"field {before.number} default changed from {before.default_value!r} to {after.default_value!r}"
        yield CompatibilityFinding("FIELD_SAME_DEFAULT", where, change, "an unset field means another value to each side", BOTH, CATEGORIES)


def _cardinality(field: FieldDescriptor) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return "map"
    if field.is_repeated:
        return "repeated"
    if field.is_required:
        return "required"
    return "optional" if field.has_presence else "implicit"


def _cardinality_change(before: FieldDescriptor, after: FieldDescriptor, where: str) -> Iterator[CompatibilityFinding]:
    was, now = _cardinality(before), _cardinality(after)
    if was == now:
        return
    change = f"field {before.number} cardinality changed from {was} to {now}"
    if "required" in (was, now):
        why = "a writer that leaves it unset produces messages the reader rejects"
        yield CompatibilityFinding(
            "MESSAGE_SAME_REQUIRED_FIELDS", where, change, why, BACKWARD if now == "required" else FORWARD, CATEGORIES
        )
    elif {was, now} == {"repeated", "map"} and _entry_shaped(before if was == "repeated" else after):
        why = "the binary encoding is the same, JSON writes an array for one and an object for the other"
        yield CompatibilityFinding("FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", where, change, why, BOTH, JSON)
    elif {was, now} == {"implicit", "optional"}:
        yield CompatibilityFinding("FIELD_SAME_CARDINALITY", where, change, "generated code gains or loses has_ accessors", BOTH, SOURCE)
    else:
        why = "a reader of one cardinality keeps only part of what the other writes"
        yield CompatibilityFinding("FIELD_WIRE_COMPATIBLE_CARDINALITY", where, change, why, BOTH, CATEGORIES)


def _entry_shaped(field: FieldDescriptor) -> bool:
    """A repeated message with a key (1) and a value (2), which is how a map travels on the wire."""
    entry = field.message_type
    return entry is not None and {1, 2} <= set(entry.fields_by_number) and len(entry.fields) == 2


def _kind(field: FieldDescriptor) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return _kind(field.message_type.fields_by_number[2])
    return SCALARS[field.type]


def _type(field: FieldDescriptor) -> str:
    """The type as written in the .proto: `int64`, `shop.v1.Money`, `map<string, int32>`."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_number[1], field.message_type.fields_by_number[2]
        return f"map<{_type(key)}, {_type(value)}>"
    if field.message_type is not None:
        return field.message_type.full_name
    if field.enum_type is not None:
        return field.enum_type.full_name
    return SCALARS[field.type]


def _value_field(field: FieldDescriptor) -> FieldDescriptor:
    """The map's value field for a map, the field itself otherwise."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return field.message_type.fields_by_number[2]
    return field


def _wire_readable(writer: FieldDescriptor, reader: FieldDescriptor) -> bool:
    """Can `reader` parse, on the binary wire, what `writer` writes (protobuf's "compatible types")?"""
    written, read = _kind(writer), _kind(reader)
    if written == read == "message":
        return _type(_value_field(writer)) == _type(_value_field(reader))
    if written == read or (written, read) in {("string", "bytes"), ("message", "bytes")}:
        return True
    return any(written in group and read in group for group in WIRE_GROUPS)


def _json_readable(writer: FieldDescriptor, reader: FieldDescriptor) -> bool:
    """Can `reader` parse the JSON `writer` writes (ints and uints of one width, enums that only grew)?"""
    written, read = _kind(writer), _kind(reader)
    if written == read == "enum":
        before, after = _value_field(writer).enum_type, _value_field(reader).enum_type
        if before is None or after is None:  # pragma: no cover - an enum field always has its enum
            return False
        return before.name == after.name and {(v.name, v.number) for v in before.values} <= {(v.name, v.number) for v in after.values}
    if written == read:
        return _type(_value_field(writer)) == _type(_value_field(reader))
    return any(written in group and read in group for group in JSON_GROUPS)


def _type_change(before: FieldDescriptor, after: FieldDescriptor, where: str, renamed: bool) -> Iterator[CompatibilityFinding]:
    was, now = _type(before), _type(after)
    if was == now:
        return
    if renamed:
        change = f"field number {before.number} reused: {was} {before.name} is now {now} {after.name}"
    else:
        change = f"field {before.number} changed type from {was} to {now}"
    pairs = {"BACKWARD": (before, after), "FORWARD": (after, before)}
    wire = tuple(direction for direction in BOTH if not _wire_readable(*pairs[direction]))
    json = tuple(direction for direction in BOTH if direction not in wire and not _json_readable(*pairs[direction]))
    if wire:
        why = f"{_kind(pairs[wire[0]][0])} data on the wire is not readable as {_kind(pairs[wire[0]][1])}: the reader fails or drops it"
        if {_kind(before), _kind(after)} == {"string", "bytes"}:
            why = "bytes that are not valid UTF-8 fail to parse as a string"
        yield CompatibilityFinding("FIELD_WIRE_COMPATIBLE_TYPE", where, change, why, wire, CATEGORIES)
    if json:
        why = "the binary encoding is compatible, the JSON one is not (64-bit ints are strings, bytes are base64)"
        yield CompatibilityFinding("FIELD_WIRE_JSON_COMPATIBLE_TYPE", where, change, why, json, JSON)
    if not wire and not json:
        why = "wire and JSON compatible, but generated code changes type"
        if _narrows(before, after) or _narrows(after, before):
            why += "; values outside the narrower type are truncated"
        yield CompatibilityFinding("FIELD_SAME_TYPE", where, change, why, BOTH, SOURCE)


def _narrows(writer: FieldDescriptor, reader: FieldDescriptor) -> bool:
    return (_kind(writer).endswith("64") and _kind(reader).endswith("32")) or _kind(reader) == "bool" != _kind(writer)


def _synthetic(fields: Sequence[FieldDescriptor]) -> bool:
    """A proto3 `optional` field sits alone in a oneof protoc made up for it ("_note")."""
    return len(fields) == 1 and fields[0].containing_oneof is not None and fields[0].containing_oneof.name == f"_{fields[0].name}"


def _oneof(field: FieldDescriptor) -> str | None:
    oneof = field.containing_oneof
    return None if oneof is None or _synthetic(oneof.fields) else oneof.name


def _oneof_words(oneof: str | None) -> str:
    return "no oneof" if oneof is None else f"oneof {oneof}"


def _reservations(descriptor: Descriptor) -> Reservations:
    """Reserved field number ranges (end exclusive) and names of a message."""
    from google.protobuf import descriptor_pb2

    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    return [(item.start, item.end) for item in proto.reserved_range], set(proto.reserved_name)


def _enum_reservations(descriptor: EnumDescriptor) -> Reservations:
    """Reserved value number ranges (made end exclusive, as for messages) and names of an enum."""
    from google.protobuf import descriptor_pb2

    proto = descriptor_pb2.EnumDescriptorProto()
    descriptor.CopyToProto(proto)
    return [(item.start, item.end + 1) for item in proto.reserved_range], set(proto.reserved_name)


def _reserved(before: Reservations, after: Reservations, where: str, rule: str, what: str) -> Iterator[CompatibilityFinding]:
    (old_numbers, old_names), (new_numbers, new_names) = before, after
    why = f"a later {what} may take it back and misread data written when it was gone"
    for start, end in old_numbers:
        if not _covered(start, end, new_numbers):
            span = str(start) if end == start + 1 else f"{start} to {end - 1}"
            yield CompatibilityFinding(rule, where, f"reserved number(s) {span} no longer reserved", why, BOTH, CATEGORIES)
    for name in sorted(old_names - new_names):
        yield CompatibilityFinding(rule, where, f"reserved name {name!r} no longer reserved", why, BOTH, CATEGORIES)


def _covered(start: int, end: int, ranges: list[tuple[int, int]]) -> bool:
    for low, high in sorted(ranges):
        if low <= start < high:
            start = high
        if start >= end:
            return True
    return start >= end


# -- enums -------------------------------------------------------------------------------------------
def _all_enums(schema: ProtoSchema) -> dict[str, EnumDescriptor]:
    found = {enum.full_name: enum for file in schema.files for enum in file.enum_types_by_name.values()}
    for message in schema.messages().values():
        found.update({enum.full_name: enum for enum in message.enum_types})
    return found


def _enums(old: ProtoSchema, new: ProtoSchema) -> Iterator[CompatibilityFinding]:
    new_enums = _all_enums(new)
    for name, before in _all_enums(old).items():
        where = f"{before.file.name}:{name}"
        if name not in new_enums:
            yield CompatibilityFinding(
                "ENUM_NO_DELETE", where, "enum deleted", "code that uses it breaks; deprecate it instead", BOTH, SOURCE
            )
            continue
        after = new_enums[name]
        yield from _reserved(_enum_reservations(before), _enum_reservations(after), where, "RESERVED_ENUM_NO_DELETE", "value")
        numbers, names = _enum_reservations(after)
        old_names = _names_by_number(before)
        new_names = _names_by_number(after)
        for number, value_names in old_names.items():
            label = "/".join(sorted(value_names))
            if number not in new_names:
                change = f"value {label} = {number} deleted"
                hint = RESERVE_HINT.format(number=number, name=label)
                if not any(start <= number < end for start, end in numbers):
                    why = f"a later value may reuse {number} with another meaning; {hint}"
                    yield CompatibilityFinding(
                        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED", f"{where}.{label}", change, why, BOTH, CATEGORIES
                    )
                elif not value_names <= names:
                    why = "JSON writes enum values by name; reserve the name too"
                    yield CompatibilityFinding("ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED", f"{where}.{label}", change, why, BOTH, JSON)
                else:
                    yield CompatibilityFinding(
                        "ENUM_VALUE_NO_DELETE", f"{where}.{label}", change, "code that names it breaks", BOTH, SOURCE
                    )
            elif not value_names <= new_names[number]:
                change = f"value {number} renamed from {label} to {'/'.join(sorted(new_names[number]))}"
                yield CompatibilityFinding(
                    "ENUM_VALUE_SAME_NAME", f"{where}.{label}", change, "JSON writes enum values by name", BOTH, JSON
                )
        for number in sorted(set(new_names) - set(old_names)):
            label = "/".join(sorted(new_names[number]))
            change = f"value {label} = {number} added"
            if before.is_closed:
                why = "old readers of this closed (proto2) enum drop the value into unknown fields: the field reads as unset"
                yield CompatibilityFinding("ENUM_VALUE_ADDED", f"{where}.{label}", change, why, FORWARD, CATEGORIES)
            else:
                why = "old readers keep the number on the wire but cannot name it, and JSON writes the name, which they drop"
                yield CompatibilityFinding("ENUM_VALUE_ADDED", f"{where}.{label}", change, why, FORWARD, JSON)


def _names_by_number(enum: EnumDescriptor) -> dict[int, set[str]]:
    names: dict[int, set[str]] = {}
    for value in enum.values:
        names.setdefault(value.number, set()).add(value.name)
    return names


# -- services ----------------------------------------------------------------------------------------
def _services(old: ProtoSchema, new: ProtoSchema) -> Iterator[CompatibilityFinding]:
    new_services = new.services()
    for name, before in old.services().items():
        where = f"{before.file.name}:{name}"
        if name not in new_services:
            why = "clients built on the old version call it and get UNIMPLEMENTED from a new server"
            yield CompatibilityFinding("SERVICE_NO_DELETE", where, "service deleted", why, BACKWARD, CATEGORIES)
            continue
        yield from _methods(before, new_services[name], where)


def _methods(before: ServiceDescriptor, after: ServiceDescriptor, where: str) -> Iterator[CompatibilityFinding]:
    new_methods = {method.name: method for method in after.methods}
    old_names = {method.name for method in before.methods}
    for method in before.methods:
        here = f"{where}.{method.name}"
        if method.name not in new_methods:
            why = "clients built on the old version call it and get UNIMPLEMENTED from a new server"
            yield CompatibilityFinding("RPC_NO_DELETE", here, "RPC deleted", why, BACKWARD, CATEGORIES)
            continue
        now = new_methods[method.name]
        signature_why = "client and server disagree on the call's shape: the call fails"
        for rule, part, was, is_now in (
            ("RPC_SAME_REQUEST_TYPE", "request type", method.input_type.full_name, now.input_type.full_name),
            ("RPC_SAME_RESPONSE_TYPE", "response type", method.output_type.full_name, now.output_type.full_name),
            ("RPC_SAME_CLIENT_STREAMING", "client streaming", method.client_streaming, now.client_streaming),
            ("RPC_SAME_SERVER_STREAMING", "server streaming", method.server_streaming, now.server_streaming),
        ):
            if was != is_now:
                yield CompatibilityFinding(rule, here, f"{part} changed from {was} to {is_now}", signature_why, BOTH, CATEGORIES)
        level_was, level_now = method.GetOptions().idempotency_level, now.GetOptions().idempotency_level
        if level_was != level_now:
            change = f"idempotency level changed from {level_was} to {level_now}"
            why = "clients and proxies may retry it, or use GET, differently"
            yield CompatibilityFinding("RPC_SAME_IDEMPOTENCY_LEVEL", here, change, why, BOTH, CATEGORIES)
    for method in after.methods:
        if method.name not in old_names:
            why = "new clients calling it on a server still on the old version get UNIMPLEMENTED: deploy servers first"
            yield CompatibilityFinding("RPC_ADDED", f"{where}.{method.name}", "RPC added", why, FORWARD, ())
