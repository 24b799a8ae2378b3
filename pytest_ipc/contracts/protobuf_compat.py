"""`check_protobuf_compatibility`: two `.proto` versions, judged by buf's rules and by a round trip.

The rules (`protobuf_rules`) see what a schema diff can see, including what no test data shows
(a deleted field whose number may be reused, a JSON name); the round trip (`protobuf_roundtrip`)
sees what really happens to bytes written with one version and parsed with the other. Both report
`CompatibilityFinding`s into one `CompatibilityReport`, as the Avro check does.

The default category is WIRE: gRPC and brokers carry the binary encoding, which is what the round
trip exercises. Renames and JSON names are then warnings; `category="WIRE_JSON"` makes them
failures and round-trips JSON too (use it for gRPC-JSON, Connect or gRPC-Gateway), `"FILE"` and
`"PACKAGE"` also fail on what breaks generated code.
"""

from __future__ import annotations

import os

from pytest_ipc.contracts.compatibility import CompatibilityReport, checked_category, directions_of
from pytest_ipc.contracts.protobuf_roundtrip import protobuf_round_trip
from pytest_ipc.contracts.protobuf_rules import protobuf_breaking_changes
from pytest_ipc.protobuf import ProtoSchema, compile_proto

ProtoVersion = ProtoSchema | str | os.PathLike[str]


def check_protobuf_compatibility(
    old: ProtoVersion,
    new: ProtoVersion,
    mode: str = "BACKWARD",
    *,
    category: str = "WIRE",
    include: tuple[str | os.PathLike[str], ...] = (),
) -> CompatibilityReport:
    """Check `new` against `old` (each a `.proto` path or a `ProtoSchema`) by buf's rules and by writing
    messages with one version and parsing them with the other, in each direction `mode` names; raise
    `ContractError` listing every finding that breaks `category`, or return the report (warnings too)."""
    directions = directions_of(mode, "Protobuf")
    report = CompatibilityReport(mode, checked_category(category))
    before, after = _schema(old, include), _schema(new, include)
    report.add(protobuf_breaking_changes(before, after))
    versions = {"BACKWARD": (before, after), "FORWARD": (after, before)}
    for direction in directions:
        checked, findings = protobuf_round_trip(*versions[direction], direction, json=category != "WIRE")
        report.records_checked += checked
        report.add(findings)
    return report.raise_if_incompatible("Protobuf schemas")


def _schema(version: ProtoVersion, include: tuple[str | os.PathLike[str], ...]) -> ProtoSchema:
    return version if isinstance(version, ProtoSchema) else compile_proto(version, include=include)
