"""Thrift compatibility by doing it: structs written with one version, read with the other.

Every struct, union, exception and method argument/result list the two versions declare differently
(nested types included; identical ones cannot tell the versions apart) is filled
with distinctive values (every field set, negative integers, binary that is not UTF-8, two items in
each container; union member `n` and enum value `n` in sample `n`), plus one sample with only the
required fields set, and written then read over the binary and the compact protocol (thriftpy2's, in
memory). The reader's copy is compared with what was written, field by field by id: a read error, a
changed value, a field the reader skipped (its wire type differs) or a required field the reader
lacks is a `ROUND_TRIP` finding. Arguments travel from client to server, results back, so for a
service BACKWARD (old clients, new server) writes arguments with the old version and results with
the new one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

from pytest_ipc._optional import require
from pytest_ipc.contracts.compatibility import ROUND_TRIP, CompatibilityFinding
from pytest_ipc.contracts.thrift_rules import (
    BINARY,
    FLIPPED,
    KINDS,
    LIST,
    MAP,
    SET,
    STRUCT,
    declared,
    field_spec,
    matched_modules,
)

MAX_DEPTH = 4
MAX_SAMPLES = 16
VERSION = {"BACKWARD": ("old", "new"), "FORWARD": ("new", "old")}


def thrift_round_trip(old: ModuleType, new: ModuleType, direction: str) -> tuple[int, list[CompatibilityFinding]]:
    """Structs written by one version and read by the other over binary and compact: how many, and
    every corruption seen."""
    factories = require("thriftpy2.protocol", extra="thrift", feature="checking Thrift compatibility")
    utils = require("thriftpy2.utils", extra="thrift", feature="checking Thrift compatibility")
    protocols = {"binary": factories.TBinaryProtocolFactory(), "compact": factories.TCompactProtocolFactory()}
    modules = list(matched_modules(old, new))
    unions = frozenset(union for pair in modules for module in pair for union in declared(module, "unions").values())
    seen: dict[str, tuple[str, str, set[str]]] = {}  # location → (what, problem, protocols it happened over)
    checked = 0
    pairs = [pair for before, after in modules for pair in _pairs(before, after, direction)]
    names = {item: f"{_file(item)}:{name}" for name, *classes, _ in pairs for item in classes}  # "orders.thrift:Orders.get(args)"
    for name, old_class, new_class, data_direction in pairs:
        if _shape(old_class) == _shape(new_class):
            continue  # declared alike, nested types included: nothing to tell them apart on the wire
        writer, reader = (old_class, new_class) if data_direction == "BACKWARD" else (new_class, old_class)
        written_by, read_by = VERSION[data_direction]
        for sample in _samples(writer, unions):
            for protocol_name, protocol in protocols.items():
                checked += 1
                for owner, path, problem in _read_back(utils, sample, reader, protocol, names):
                    subject = f"{name}.{path}" if path else f"a {name}"
                    what = f"{subject} written by the {written_by} version, read by the {read_by} one"
                    seen.setdefault(owner or names[writer], (what, problem, set()))[2].add(protocol_name)
    why = "readers see something else than was written"
    return checked, [
        CompatibilityFinding(ROUND_TRIP, location, f"{what} over {' and '.join(sorted(over))}: {problem}", why, (direction,))
        for location, (what, problem, over) in seen.items()
    ]


def _file(struct: Any) -> str:
    return os.path.basename(str(struct.__thrift_file__))


def _pairs(old: ModuleType, new: ModuleType, direction: str) -> Iterator[tuple[str, Any, Any, str]]:
    """(name, old class, new class, direction its data travels) for every struct both versions have."""
    new_structs = {name: item for kind in KINDS for name, item in declared(new, kind).items()}
    for kind in KINDS:
        for name, item in declared(old, kind).items():
            if name in new_structs:
                yield name, item, new_structs[name], direction
    new_services = declared(new, "services")
    for service_name, service in declared(old, "services").items():
        if service_name not in new_services:
            continue
        for method in service.thrift_services:
            if method in new_services[service_name].thrift_services:
                for part, travels in (("args", direction), ("result", FLIPPED[direction])):
                    old_part = getattr(service, f"{method}_{part}")
                    new_part = getattr(new_services[service_name], f"{method}_{part}")
                    yield f"{service_name}.{method}({part})", old_part, new_part, travels


def _shape(struct: Any, seen: frozenset[Any] = frozenset()) -> object:
    """Everything the wire and a reader see of a struct: ids, types, names, requiredness, defaults,
    nested structs' shapes and enums' values."""
    if struct in seen:
        return struct.__name__  # a recursive type: its shape is already being described
    fields = []
    for number, spec in sorted(struct.thrift_spec.items()):
        ttype, name, argument, required = field_spec(spec)
        fields.append((number, ttype, name, required, _argument_shape(argument, seen | {struct})))
    return struct.__name__, tuple(fields), tuple(sorted(struct.default_spec, key=repr))


def _argument_shape(argument: Any, seen: frozenset[Any]) -> object:
    if isinstance(argument, tuple):
        return tuple(_argument_shape(part, seen) for part in argument)
    if _is_enum(argument):
        return argument.__name__, tuple(sorted(argument._VALUES_TO_NAMES.items()))
    if isinstance(argument, type) and hasattr(argument, "thrift_spec"):
        return _shape(argument, seen)
    return argument


def _samples(struct: Any, unions: frozenset[Any]) -> list[Any]:
    """One fully set sample per union member and enum value, and one with only the required fields."""
    count = max([1, *_choices(struct, unions)])
    samples = [_filled(struct, index, 0, unions) for index in range(min(count, MAX_SAMPLES))]
    required = {field_spec(spec)[1] for spec in struct.thrift_spec.values() if field_spec(spec)[3]}
    if struct not in unions:
        samples.append(struct(**{name: getattr(samples[0], name) for name in required}))
    return samples


def _choices(struct: Any, unions: frozenset[Any]) -> Iterator[int]:
    if struct in unions:
        yield len(struct.thrift_spec)
    for spec in struct.thrift_spec.values():
        _, _, argument, _ = field_spec(spec)
        if _is_enum(argument):
            yield len(argument._VALUES_TO_NAMES)


def _is_enum(argument: Any) -> bool:
    return isinstance(argument, type) and hasattr(argument, "_VALUES_TO_NAMES")


def _filled(struct: Any, index: int, depth: int, unions: frozenset[Any]) -> Any:
    """Every field set (one member of a union); past MAX_DEPTH only the required ones (recursive types)."""
    specs = sorted(struct.thrift_spec.items())
    if struct in unions:
        specs = [specs[index % len(specs)]]
    elif depth >= MAX_DEPTH:
        specs = [(number, spec) for number, spec in specs if field_spec(spec)[3]]
    values = {}
    for number, spec in specs:
        ttype, name, argument, _ = field_spec(spec)
        values[name] = _value(ttype, argument, number, index, depth, unions)
    return struct(**values)


def _value(ttype: int, argument: Any, number: int, index: int, depth: int, unions: frozenset[Any]) -> Any:
    base = (number % 100) * 100 + index + 1
    if ttype == STRUCT:
        return _filled(argument, index, depth + 1, unions)
    if ttype in (LIST, SET):
        inner = _unpacked(argument)
        count = 1 if ttype == SET and inner[0] == STRUCT else 2  # generated structs are not hashable
        items = [_value(*inner, number, index + offset, depth, unions) for offset in range(count)]
        return items if ttype == LIST else set(items)
    if ttype == MAP:
        key, value = _unpacked(argument[0]), _unpacked(argument[1])
        return {
            _value(*key, number, index + offset, depth, unions): _value(*value, number, index + offset, depth, unions)
            for offset in range(2)
        }
    if _is_enum(argument):
        numbers = sorted(argument._VALUES_TO_NAMES)
        return numbers[index % len(numbers)]
    simple: dict[int, Any] = {
        2: True,  # bool
        3: -(base % 100) - 1,  # byte
        4: base + 0.25,  # double
        6: -(1_000 + base),  # i16
        8: -(100_000 + base),  # i32
        10: -(5_000_000_000 + base),  # i64
        11: f"text-{base}·",  # string
        BINARY: b"\xff\xfe" + str(base).encode(),  # binary, not UTF-8 on purpose
    }
    return simple[ttype]


def _unpacked(argument: Any) -> tuple[int, Any]:
    return (argument[0], argument[1]) if isinstance(argument, tuple) else (argument, None)


def _read_back(utils: ModuleType, sample: Any, reader: Any, protocol: Any, names: dict[Any, str]) -> Iterator[tuple[str, str, str]]:
    data = utils.serialize(sample, protocol)
    try:
        read = utils.deserialize(reader(), data, protocol)
    except Exception as error:  # thriftpy2 raises several kinds (decode, protocol, type errors): all mean "cannot read"
        yield "", "", f"fails to read ({type(error).__name__}: {error})"
        return
    yield from _differences(sample, read, "", names)


def _differences(written: Any, read: Any, path: str, names: dict[Any, str]) -> Iterator[tuple[str, str, str]]:
    """(struct.field, path, problem) for every field of `written` that `read` (another version) does
    not carry as written, and every required field of `read` that `written` could leave unset."""
    writer_fields, reader_fields = _fields(written.__class__), _fields(read.__class__)
    owner = names.get(type(written), f"{_file(type(written))}:{type(written).__name__}")
    reader_owner = names.get(type(read), f"{_file(type(read))}:{type(read).__name__}")
    for number, (name, _) in writer_fields.items():
        value = getattr(written, name)
        if value is None or number not in reader_fields:
            continue
        here = f"{path}.{name}" if path else name
        got = getattr(read, reader_fields[number][0])
        if got is None:
            yield f"{owner}.{name}", here, f"field {number} is skipped (its wire type differs) and reads as unset"
        elif got != value or type(got) is not type(value):  # structs of two versions are never ==
            yield from _compared(value, got, here, f"{owner}.{name}", names)
    for number, (name, required) in reader_fields.items():
        if required and not writer_fields.get(number, ("", False))[1] and getattr(read, name) is None:
            here = f"{path}.{name}" if path else name
            problem = f"required field {number} is missing, and readers that validate reject the struct"
            yield f"{reader_owner}.{name}", here, problem


@cache
def _fields(struct: Any) -> dict[int, tuple[str, bool]]:
    """Field id → (name, required), in id order."""
    return {number: (field_spec(spec)[1], field_spec(spec)[3]) for number, spec in sorted(struct.thrift_spec.items())}


def _compared(value: Any, got: Any, path: str, owner: str, names: dict[Any, str]) -> Iterator[tuple[str, str, str]]:
    if hasattr(value, "thrift_spec") and hasattr(got, "thrift_spec"):
        yield from _differences(value, got, path, names)
    elif isinstance(value, list | set | frozenset) and isinstance(got, list | set | frozenset):
        if len(value) != len(got):
            yield owner, path, f"{len(value)} item(s) are read as {len(got)}"
            return
        unordered = not (isinstance(value, list) and isinstance(got, list))  # a set may come back as a list
        for position, (one, other) in enumerate(zip(_ordered(value, unordered), _ordered(got, unordered), strict=True)):
            yield from _compared(one, other, f"{path}[{position}]", owner, names)
    elif isinstance(value, dict) and isinstance(got, dict):
        keys = {_plain(key): key for key in got}
        if set(keys) != {_plain(key) for key in value}:
            yield owner, path, f"keys {_shown(sorted(map(repr, value)))} are read as {_shown(sorted(map(repr, got)))}"
            return
        for key, item in value.items():
            yield from _compared(item, got[keys[_plain(key)]], f"{path}[{key!r}]", owner, names)
    elif _plain(value) != _plain(got):
        yield owner, path, f"{_shown(value)} is read as {_shown(got)}"


def _ordered(items: Any, unordered: bool) -> list[Any]:
    """A list as it is; the items of a set in one order."""
    return sorted(items, key=lambda item: repr(_plain(item))) if unordered else list(items)


def _plain(value: Any) -> Any:
    """One form for values the wire does not tell apart: a str and its UTF-8 bytes."""
    return value.encode() if isinstance(value, str) else value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
