"""`check_thrift_compatibility`: two Thrift IDL versions, judged by rules and by a round trip.

The rules (`thrift_rules`) see what an IDL diff can see; the round trip (`thrift_roundtrip`) writes
every struct and every method's arguments and result with one version and reads them with the other
over the binary and compact protocols. Both report into one `CompatibilityReport`, as the Avro and
Protocol Buffers checks do. The enforced category defaults to WIRE: renames, deleted fields and
other changes that only break generated code are warnings; `category="FILE"` makes them failures.

Each version is loaded by `pytest_ipc.thrift_idl`, so two versions of one file load side by side.
"""

from __future__ import annotations

import os

from pytest_ipc.contracts.compatibility import CompatibilityReport, checked_category, directions_of
from pytest_ipc.contracts.thrift_roundtrip import thrift_round_trip
from pytest_ipc.contracts.thrift_rules import thrift_breaking_changes
from pytest_ipc.thrift_idl import ThriftIdl, load_thrift


def check_thrift_compatibility(
    old: ThriftIdl,
    new: ThriftIdl,
    mode: str = "BACKWARD",
    *,
    category: str = "WIRE",
    include: tuple[str | os.PathLike[str], ...] = (),
) -> CompatibilityReport:
    """Check `new` against `old` (each a `.thrift` path or a module thriftpy2 loaded) by rules and by
    writing structs with one version and reading them with the other, in each direction `mode` names;
    raise `ContractError` listing every finding that breaks `category`, or return the report."""
    directions = directions_of(mode, "Thrift")
    report = CompatibilityReport(mode, checked_category(category))
    before, after = load_thrift(old, include), load_thrift(new, include)
    report.add(thrift_breaking_changes(before, after))
    for direction in directions:
        checked, findings = thrift_round_trip(before, after, direction)
        report.records_checked += checked
        report.add(findings)
    return report.raise_if_incompatible("Thrift IDLs")

