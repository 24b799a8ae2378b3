"""`check_thrift_compatibility`: two Thrift IDL versions, judged by rules and by a round trip.

The rules (`thrift_rules`) see what an IDL diff can see; the round trip (`thrift_roundtrip`) writes
every struct and every method's arguments and result with one version and reads them with the other
over the binary and compact protocols. Both report into one `CompatibilityReport`, as the Avro and
Protocol Buffers checks do. The enforced category defaults to WIRE: renames, deleted fields and
other changes that only break generated code are warnings; `category="FILE"` makes them failures.

Each version is parsed by thriftpy2 into a module named after its path and contents, so two versions
of one file (same name, same types) load side by side, and loading one twice reuses it. The modules
stay out of `sys.modules`, and one parser serves every load (building PLY's tables takes longer than
parsing a file).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._optional import require
from pytest_ipc.contracts.compatibility import CompatibilityReport, checked_category, directions_of
from pytest_ipc.contracts.thrift_roundtrip import thrift_round_trip
from pytest_ipc.contracts.thrift_rules import thrift_breaking_changes

ThriftVersion = ModuleType | str | os.PathLike[str]


def check_thrift_compatibility(
    old: ThriftVersion,
    new: ThriftVersion,
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


def load_thrift(version: ThriftVersion, include: tuple[str | os.PathLike[str], ...] = ()) -> ModuleType:
    """A `.thrift` file as a thriftpy2 module named after its path and contents (a module passes through)."""
    if isinstance(version, ModuleType):
        return version
    parser = require("thriftpy2.parser.parser", extra="thrift", feature="checking Thrift compatibility")
    path = Path(version).resolve()
    if not path.is_file() or path.suffix != ".thrift":
        raise IpcUsageError(f"no .thrift file at {path}; pass the path of a Thrift IDL file or a module thriftpy2 loaded")
    folders = [str(path.parent), *(str(Path(folder).resolve()) for folder in include)]
    # thriftpy2 caches modules by name and names included files after the including one's prefix:
    # the digest covers every IDL file an include could reach, so a changed one gets a fresh name
    digest = hashlib.sha256(str(path).encode())
    for idl in sorted({idl for folder in folders for idl in Path(folder).glob("*.thrift")}):
        digest.update(idl.name.encode() + b"\0" + idl.read_bytes())
    name = f"pytest_ipc_{digest.hexdigest()[:12]}_{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}_thrift"
    try:
        module: ModuleType = parser.parse(str(path), module_name=name, include_dirs=folders, parser=_ply_parser())
    except parser.ThriftParserError as error:
        raise IpcUsageError(f"{path} is not valid Thrift IDL: {error}") from error
    return module


@cache
def _ply_parser() -> Any:
    """thriftpy2's grammar as a PLY parser, built once (thriftpy2 builds one per file otherwise)."""
    grammar = require("thriftpy2.parser.parser", extra="thrift", feature="checking Thrift compatibility")
    yacc = require("ply.yacc", extra="thrift", feature="checking Thrift compatibility")
    return yacc.yacc(module=grammar, debug=False, write_tables=False)
