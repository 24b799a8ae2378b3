"""Breaking changes between two loaded Thrift IDL versions, by rules in the spirit of buf's.

Structs, unions, exceptions, enums and services are matched by name, fields by id, enum values by
number, methods by name; files both versions include are matched by include name and compared too.
The binary, compact and JSON protocols all identify a field by its id and wire type, so only an id's
type matters on the wire: a rename breaks generated code (FILE, PACKAGE), a type change breaks the
wire unless both types travel alike (string and binary, an enum and i32).

Directions: for data, BACKWARD is old writer → new reader. For a service, BACKWARD is old clients
calling a new server and FORWARD new clients calling an old server; a method's arguments travel from
client to server and its result back, so a result field that breaks new readers breaks FORWARD.
Unlike proto3, an unknown enum value is lost by old readers in Java and others (they map it to null),
so a new enum value is a wire break for FORWARD.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from pytest_ipc.contracts.compatibility import BACKWARD, BOTH, CATEGORIES, FORWARD, CompatibilityFinding

SOURCE = ("FILE", "PACKAGE")
TTYPE_NAMES = {
    2: "bool",
    3: "byte",
    4: "double",
    6: "i16",
    8: "i32",
    10: "i64",
    11: "string",
    12: "struct",
    13: "map",
    14: "set",
    15: "list",
    18: "binary",
}
STRUCT, MAP, SET, LIST, BINARY = 12, 13, 14, 15, 18
KINDS = ("structs", "unions", "exceptions")
FLIPPED = {"BACKWARD": "FORWARD", "FORWARD": "BACKWARD"}


def field_spec(spec: tuple[Any, ...]) -> tuple[int, str, Any, bool]:
    """(ttype, name, type argument or None, required) from a thriftpy2 `thrift_spec` entry."""
    if len(spec) == 3:
        return spec[0], spec[1], None, spec[2]
    return spec[0], spec[1], spec[2], spec[3]


def type_name(ttype: int, argument: Any) -> str:
    """The type as written in the IDL: `i64`, `Status`, `list<Line>`, `map<string, i64>`."""
    if ttype == MAP:
        key, value = argument
        return f"map<{type_name(*_unpack(key))}, {type_name(*_unpack(value))}>"
    if ttype in (LIST, SET):
        return f"{TTYPE_NAMES[ttype]}<{type_name(*_unpack(argument))}>"
    if argument is not None and isinstance(argument, type):  # a struct, or an enum on an i32
        return argument.__name__
    return TTYPE_NAMES.get(ttype, str(ttype))


def _wire_type(ttype: int, argument: Any) -> str:
    """The type as the wire sees it: binary is a string, an enum an i32, a struct its name's fields."""
    if ttype == MAP:
        key, value = argument
        return f"map<{_wire_type(*_unpack(key))}, {_wire_type(*_unpack(value))}>"
    if ttype in (LIST, SET):
        return f"{TTYPE_NAMES[ttype]}<{_wire_type(*_unpack(argument))}>"
    if ttype == STRUCT:
        return f"struct {argument.__name__}"
    return "string" if ttype == BINARY else TTYPE_NAMES.get(ttype, str(ttype))


def _unpack(argument: Any) -> tuple[int, Any]:
    return (argument[0], argument[1]) if isinstance(argument, tuple) else (argument, None)


def declared(module: ModuleType, kind: str) -> dict[str, Any]:
    """The module's own declarations of one kind (`structs`, `enums`, `services`...), by name."""
    return {item.__name__: item for item in module.__thrift_meta__.get(kind, [])}


def matched_modules(old: ModuleType, new: ModuleType) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The two versions, then each file both include (matched by include name), recursively, once each."""
    pending, seen = [(old, new)], set()
    while pending:
        before, after = pending.pop(0)
        if (id(before), id(after)) in seen:
            continue
        seen.add((id(before), id(after)))
        yield before, after
        included = {module.__name__: module for module in after.__thrift_meta__.get("includes", [])}
        pending += [
            (module, included[module.__name__]) for module in before.__thrift_meta__.get("includes", []) if module.__name__ in included
        ]


def thrift_breaking_changes(old: ModuleType, new: ModuleType) -> list[CompatibilityFinding]:
    """Every change from `old` to `new` (and the files both include) that some rule counts."""
    return [finding for before, after in matched_modules(old, new) for finding in _module_changes(before, after)]


def _module_changes(old: ModuleType, new: ModuleType) -> list[CompatibilityFinding]:
    file = os.path.basename(old.__thrift_file__)
    findings: list[CompatibilityFinding] = []
    new_structs = {name: item for kind in KINDS for name, item in declared(new, kind).items()}
    for kind in KINDS:
        for name, before in declared(old, kind).items():
            where = f"{file}:{name}"
            if name not in new_structs:
                findings.append(
                    CompatibilityFinding(
                        f"{kind[:-1].upper()}_NO_DELETE", where, f"{kind[:-1]} deleted", "code that uses it breaks", BOTH, SOURCE
                    )
                )
            else:
                findings += struct_changes(before, new_structs[name], where, union=kind == "unions")
    findings += _enums(old, new, file)
    findings += _services(old, new, file)
    return findings


def struct_changes(before: Any, after: Any, where: str, *, union: bool = False) -> Iterator[CompatibilityFinding]:
    """Field changes between two versions of one struct, union, exception or argument list (by id)."""
    old_defaults, new_defaults = dict(before.default_spec), dict(after.default_spec)
    for number, spec in before.thrift_spec.items():
        ttype, name, argument, required = field_spec(spec)
        here = f"{where}.{name}"
        if number not in after.thrift_spec:
            change = f"field {number} ({type_name(ttype, argument)} {name}) deleted"
            if union:
                why = "old writers still choose it, and new readers get a union with no member set"
                yield CompatibilityFinding("UNION_MEMBER_NO_DELETE", here, change, why, BACKWARD, CATEGORIES)
            why = "Thrift cannot reserve an id: keep the field, deprecated, so no later field reuses it with another type"
            yield CompatibilityFinding("FIELD_NO_DELETE", here, change, why, BOTH, SOURCE)
            if required:
                why = "new writers never set it, and old readers reject a struct without it"
                yield CompatibilityFinding(
                    "STRUCT_SAME_REQUIRED_FIELDS", here, f"required field {number} deleted", why, FORWARD, CATEGORIES
                )
            continue
        new_ttype, new_name, new_argument, new_required = field_spec(after.thrift_spec[number])
        if name != new_name:
            why = "binary, compact and JSON protocols use the id, generated code and TSimpleJSON the name"
            yield CompatibilityFinding("FIELD_SAME_NAME", here, f"field {number} renamed from {name!r} to {new_name!r}", why, BOTH, SOURCE)
        yield from _type_change(number, (ttype, argument), (new_ttype, new_argument), here, name != new_name, new_name)
        if required != new_required:
            change = f"field {number} changed from {_requiredness(required)} to {_requiredness(new_required)}"
            why = "a writer that leaves it unset produces structs the reader rejects"
            yield CompatibilityFinding("FIELD_SAME_REQUIREDNESS", here, change, why, BACKWARD if new_required else FORWARD, CATEGORIES)
        if old_defaults.get(name) != new_defaults.get(new_name):
            change = f"field {number} default changed from {old_defaults.get(name)!r} to {new_defaults.get(new_name)!r}"
            yield CompatibilityFinding(
                "FIELD_SAME_DEFAULT", here, change, "an unset field means another value to each side", BOTH, CATEGORIES
            )
    for number, spec in after.thrift_spec.items():
        _, name, _, required = field_spec(spec)
        if number not in before.thrift_spec and required:
            why = "old writers never set it, and new readers reject a struct without it"
            yield CompatibilityFinding(
                "STRUCT_SAME_REQUIRED_FIELDS", f"{where}.{name}", f"required field {number} added", why, BACKWARD, CATEGORIES
            )


def _requiredness(required: bool) -> str:
    return "required" if required else "optional"


def _type_change(
    number: int, was: tuple[int, Any], now: tuple[int, Any], where: str, renamed: bool, new_name: str
) -> Iterator[CompatibilityFinding]:
    before, after = type_name(*was), type_name(*now)
    if before == after:
        return
    change = f"field id {number} reused: now {after} {new_name}" if renamed else f"field {number} changed type from {before} to {after}"
    wire_before, wire_after = _wire_type(*was), _wire_type(*now)
    if wire_before != wire_after:
        why = f"{wire_before} on the wire is not {wire_after}: readers skip the field, or fail on a mismatched container"
        yield CompatibilityFinding("FIELD_WIRE_COMPATIBLE_TYPE", where, change, why, BOTH, CATEGORIES)
    elif "binary" in before and "binary" not in after:
        why = "binary that is not valid UTF-8 fails to decode as a string"
        yield CompatibilityFinding("FIELD_WIRE_COMPATIBLE_TYPE", where, change, why, BACKWARD, CATEGORIES)
        yield CompatibilityFinding("FIELD_SAME_TYPE", where, change, "generated code changes type", FORWARD, SOURCE)
    elif "binary" in after and "binary" not in before:
        why = "binary that is not valid UTF-8 fails to decode as a string"
        yield CompatibilityFinding("FIELD_WIRE_COMPATIBLE_TYPE", where, change, why, FORWARD, CATEGORIES)
        yield CompatibilityFinding("FIELD_SAME_TYPE", where, change, "generated code changes type", BACKWARD, SOURCE)
    else:
        why = "the wire encoding is the same (an enum is an i32), generated code changes type"
        yield CompatibilityFinding("FIELD_SAME_TYPE", where, change, why, BOTH, SOURCE)


def _enums(old: ModuleType, new: ModuleType, file: str) -> Iterator[CompatibilityFinding]:
    new_enums = declared(new, "enums")
    for name, before in declared(old, "enums").items():
        where = f"{file}:{name}"
        if name not in new_enums:
            yield CompatibilityFinding("ENUM_NO_DELETE", where, "enum deleted", "code that uses it breaks", BOTH, SOURCE)
            continue
        old_values, new_values = before._VALUES_TO_NAMES, new_enums[name]._VALUES_TO_NAMES
        for number, value in sorted(old_values.items()):
            if number not in new_values:
                why = "old writers still send it; readers in Java and others map it to null, and a later value may reuse it"
                yield CompatibilityFinding(
                    "ENUM_VALUE_NO_DELETE", f"{where}.{value}", f"value {value} = {number} deleted", why, BACKWARD, CATEGORIES
                )
            elif new_values[number] != value:
                change = f"value {number} renamed from {value} to {new_values[number]}"
                yield CompatibilityFinding("ENUM_VALUE_SAME_NAME", f"{where}.{value}", change, "code that names it breaks", BOTH, SOURCE)
        for number in sorted(set(new_values) - set(old_values)):
            value = new_values[number]
            why = "old readers in Java and others map an unknown value to null: the field is lost; upgrade readers first"
            yield CompatibilityFinding("ENUM_VALUE_ADDED", f"{where}.{value}", f"value {value} = {number} added", why, FORWARD, CATEGORIES)


def _services(old: ModuleType, new: ModuleType, file: str) -> Iterator[CompatibilityFinding]:
    new_services = declared(new, "services")
    gone = "clients built on the old version call it and get an unknown-method error from a new server"
    for name, before in declared(old, "services").items():
        where = f"{file}:{name}"
        if name not in new_services:
            yield CompatibilityFinding("SERVICE_NO_DELETE", where, "service deleted", gone, BACKWARD, CATEGORIES)
            continue
        after = new_services[name]
        for method in before.thrift_services:
            here = f"{where}.{method}"
            if method not in after.thrift_services:
                yield CompatibilityFinding("RPC_NO_DELETE", here, "method deleted", gone, BACKWARD, CATEGORIES)
                continue
            yield from _method_changes(before, after, method, here)
        for method in after.thrift_services:
            if method not in before.thrift_services:
                why = "new clients calling it on a server still on the old version get an unknown-method error: deploy servers first"
                yield CompatibilityFinding("RPC_ADDED", f"{where}.{method}", "method added", why, FORWARD, ())


def _method_changes(before: Any, after: Any, method: str, where: str) -> Iterator[CompatibilityFinding]:
    was_oneway, is_oneway = getattr(before, f"{method}_result").oneway, getattr(after, f"{method}_result").oneway
    if was_oneway != is_oneway:
        change = f"oneway changed from {was_oneway} to {is_oneway}"
        why = "a oneway caller never reads a reply, a two-way caller waits for one that never comes"
        yield CompatibilityFinding("RPC_SAME_ONEWAY", where, change, why, BOTH, CATEGORIES)
        return
    yield from struct_changes(getattr(before, f"{method}_args"), getattr(after, f"{method}_args"), f"{where}(args)")
    old_result, new_result = getattr(before, f"{method}_result"), getattr(after, f"{method}_result")
    for finding in struct_changes(old_result, new_result, f"{where}(result)"):  # the server writes results
        yield CompatibilityFinding(
            finding.rule, finding.location, finding.change, finding.why, tuple(FLIPPED[d] for d in finding.directions), finding.categories
        )
    for number in sorted(set(old_result.thrift_spec) | set(new_result.thrift_spec)):
        if number in old_result.thrift_spec and number in new_result.thrift_spec:
            continue
        _, name, argument, _ = field_spec(old_result.thrift_spec.get(number) or new_result.thrift_spec[number])
        here = f"{where}(result).{name}"
        if number == 0 and number in old_result.thrift_spec:
            why = "old clients wait for a return value the new server no longer sends: MISSING_RESULT"
            yield CompatibilityFinding("RPC_SAME_RESULT", here, "return value removed (now void)", why, BACKWARD, CATEGORIES)
        elif number != 0 and number in new_result.thrift_spec:
            change = f"exception {type_name(STRUCT, argument)} {name} added (id {number})"
            why = "old clients cannot read it when it is thrown and fail with MISSING_RESULT"
            yield CompatibilityFinding("RPC_SAME_RESULT", here, change, why, BACKWARD, CATEGORIES)
