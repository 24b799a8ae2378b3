"""Avro records: schema compatibility, checked by doing it (write records with one schema, read with the
other), and single records as brokers carry them (`read_record`, `write_record`).

Modes follow the Schema Registry's meaning (`compatibility` owns them and the report). BACKWARD:
consumers on the new schema read data written with the old one. FORWARD: consumers still on the old
schema read data written with the new one. FULL: both. Sample records come from the writer schema (Faker-seeded), and every union branch and
enum symbol is used by some record, so a removed branch or symbol is caught, not just missing defaults.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from typing import Any

import fastavro
from faker import Faker

from pytest_ipc.contracts.compatibility import (
    ROUND_TRIP,
    CompatibilityFinding,
    CompatibilityReport,
    directions_of,
)

DEFAULT_SAMPLES = 12


def check_avro_compatibility(
    old_schema: dict[str, Any],
    new_schema: dict[str, Any],
    mode: str = "BACKWARD",
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> CompatibilityReport:
    """Write sample records with one schema, read them with the other; raise `ContractError` if any
    direction the mode demands fails, naming the direction and fastavro's reason."""
    old, new = fastavro.parse_schema(old_schema), fastavro.parse_schema(new_schema)
    versions = {"BACKWARD": ("old", old, "new", new), "FORWARD": ("new", new, "old", old)}
    report = CompatibilityReport(mode)
    for direction in directions_of(mode, "Avro"):
        writer_name, writer, reader_name, reader = versions[direction]
        records = SampleRecords(writer, seed).make(samples)
        report.records_checked += len(records)
        failure = _round_trip(records, writer, reader)
        if failure:
            change = f"data written with the {writer_name} schema cannot be read with the {reader_name} schema: {failure}"
            why = "readers fail on every such record; give new fields a default and keep old symbols and branches"
            name = str(writer.get("name", "record")) if isinstance(writer, dict) else "record"
            report.add([CompatibilityFinding(ROUND_TRIP, name, change, why, (direction,))])
    return report.raise_if_incompatible("Avro schemas")


def write_record(record: Any, schema: Any) -> bytes:
    """One record in Avro's binary encoding, without a container (how a broker message carries it)."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def read_record(payload: bytes, schema: Any) -> Any:
    """The record `payload` holds, written with `schema` by `write_record`; a `ValueError` says why not.

    Bytes left over after the record, or a record that writes back as other bytes, mean the payload was
    written with another schema even where every byte happened to decode."""
    parsed = fastavro.parse_schema(schema)
    buffer = io.BytesIO(payload)
    try:
        record = fastavro.schemaless_reader(buffer, parsed, None)
    except EOFError:
        raise ValueError(f"the {len(payload)} byte(s) end before one {_name_of(parsed)} does") from None
    except Exception as error:  # fastavro raises several kinds (IndexError for an enum, UnicodeDecodeError...)
        raise ValueError(f"{type(error).__name__}: {error}") from None
    if (left := len(payload) - buffer.tell()) > 0:
        raise ValueError(f"{left} byte(s) are left over after one {_name_of(parsed)}: written with another schema?")
    if write_record(record, parsed) != payload:
        raise ValueError(f"it decodes as {record!r}, which does not write back as the same bytes")
    return record


def validate_record(record: Any, schema: Any) -> list[str]:
    """Why `record` (a value, e.g. from JSON) is no record of `schema`: one line per problem, empty if it is one."""
    from fastavro.validation import ValidationError, validate

    try:
        validate(record, fastavro.parse_schema(schema), raise_errors=True)
    except ValidationError as error:
        return [str(problem) for problem in error.errors]
    return []


def _name_of(schema: Any) -> str:
    return str(schema.get("name", schema.get("type"))) if isinstance(schema, dict) else str(schema)


def _round_trip(records: list[Any], writer: Any, reader: Any) -> str | None:
    for number, record in enumerate(records):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer, record)
        buffer.seek(0)
        try:
            fastavro.schemaless_reader(buffer, writer, reader)
        except Exception as error:  # fastavro raises several kinds; all mean "cannot read"
            return f"record {number} {record!r}: {type(error).__name__}: {error}"
    return None


class SampleRecords:
    """Records valid for a parsed schema; record `n` takes union branch / enum symbol `n mod len`."""

    def __init__(self, schema: Any, seed: int) -> None:
        self.schema = schema
        self.faker = Faker()
        self.faker.seed_instance(seed)
        self.random = random.Random(seed)
        self.named: dict[str, Any] = {}

    def make(self, count: int) -> list[Any]:
        return [self.value(self.schema, index) for index in range(count)]

    def value(self, schema: Any, index: int) -> Any:
        if isinstance(schema, list):
            return self.value(schema[index % len(schema)], index // len(schema))
        if isinstance(schema, str):
            return self.primitive(self.named.get(schema, schema), index)
        kind = schema["type"]
        if "name" in schema:
            self.named[schema["name"]] = schema
        if kind == "record":
            return {
                item["name"]: self.value(item["type"], index + offset) for offset, item in enumerate(schema["fields"])
            }
        if kind == "enum":
            return schema["symbols"][index % len(schema["symbols"])]
        if kind == "array":
            return [self.value(schema["items"], index + offset) for offset in range(2)]
        if kind == "map":
            return {self.faker.word(): self.value(schema["values"], index)}
        if kind == "fixed":
            return self.faker.binary(length=schema["size"])
        return self.primitive(kind, index)

    def primitive(self, kind: Any, index: int) -> Any:
        if isinstance(kind, dict):
            return self.value(kind, index)
        makers: dict[str, Callable[[], Any]] = {
            "null": lambda: None,
            "boolean": self.faker.pybool,
            "int": lambda: self.faker.pyint(min_value=-1000, max_value=1000),
            "long": lambda: self.faker.pyint(min_value=0, max_value=2**40),
            "float": lambda: float(self.faker.pyint(max_value=1000)) / 4,
            "double": lambda: self.faker.pyfloat(right_digits=3, min_value=-1e6, max_value=1e6),
            "bytes": lambda: self.faker.binary(length=8),
            "string": self.faker.word,
        }
        if kind not in makers:
            raise ValueError(f"cannot generate a sample of Avro type {kind!r}")
        return makers[kind]()
