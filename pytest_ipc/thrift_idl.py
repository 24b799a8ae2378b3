"""Thrift IDL files as thriftpy2 modules: the one owner of "load a `.thrift` file".

The Thrift stub and the Thrift compatibility check both load IDLs here. Each file is parsed into a
module named after its path and the contents of every IDL an include could reach, so two versions of
one file (same name, same types) load side by side, a second `inventory.thrift` from another folder
loads as itself (thriftpy2 caches modules by name), and loading one file twice reuses the module.
The modules stay out of `sys.modules`, and one PLY parser serves every load (building PLY's tables
takes longer than parsing a file). A file the test already loaded itself with
`thriftpy2.load(path, module_name="<stem>_thrift")` is that module, so its classes are the test's.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._optional import require

__all__ = ["ThriftIdl", "load_thrift"]

ThriftIdl = ModuleType | str | os.PathLike[str]
"""A Thrift IDL: the path of a `.thrift` file, or a module thriftpy2 loaded."""
FEATURE = "loading a Thrift IDL"


def load_thrift(idl: ThriftIdl, include: tuple[str | os.PathLike[str], ...] = ()) -> ModuleType:
    """`idl` (a `.thrift` path, or a module thriftpy2 loaded, which passes through) as a thriftpy2
    module; `include` lists folders to search for included files besides the file's own."""
    if isinstance(idl, ModuleType):
        return idl
    parser = require("thriftpy2.parser.parser", extra="thrift", feature=FEATURE)
    path = Path(idl).resolve()
    if not path.is_file() or path.suffix != ".thrift":
        raise IpcUsageError(f"no .thrift file at {path}: expected a .thrift file or a module thriftpy2 loaded")
    own = _loaded_by_the_test(path)
    if own is not None:
        return own
    folders = [str(path.parent), *(str(Path(folder).resolve()) for folder in include)]
    # thriftpy2 caches modules by name and names included files after the including one's prefix:
    # the digest covers every IDL file an include could reach, so a changed one gets a fresh name
    digest = hashlib.sha256(str(path).encode())
    for reachable in sorted({found for folder in folders for found in Path(folder).glob("*.thrift")}):
        digest.update(reachable.name.encode() + b"\0" + reachable.read_bytes())
    name = f"pytest_ipc_{digest.hexdigest()[:12]}_{_identifier(path)}"
    try:
        module: ModuleType = parser.parse(str(path), module_name=name, include_dirs=folders, parser=_ply_parser())
    except (parser.ThriftParserError, UnicodeDecodeError) as error:  # thriftpy2 names the line, not the file
        includes = re.search(r"^\s*include\b", path.read_bytes().decode(errors="replace"), re.MULTILINE)
        where = f"{path} (or a file it includes)" if includes else str(path)
        raise IpcUsageError(f"{where} is not valid Thrift IDL: {error}; fix the file, or pass a module thriftpy2 loaded") from error
    return module


def _identifier(path: Path) -> str:
    """The module name `thriftpy2.load` users give a file: its stem as an identifier, `_thrift` appended."""
    return f"{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}_thrift"


def _loaded_by_the_test(path: Path) -> ModuleType | None:
    """The module `thriftpy2.load(path, module_name="<stem>_thrift")` put in `sys.modules`, if it is this file's."""
    module = sys.modules.get(_identifier(path))
    loaded_from = getattr(module, "__thrift_file__", None)
    return module if loaded_from is not None and Path(loaded_from).resolve() == path else None


@cache
def _ply_parser() -> Any:
    """thriftpy2's grammar as a PLY parser, built once (thriftpy2 builds one per file otherwise)."""
    grammar = require("thriftpy2.parser.parser", extra="thrift", feature=FEATURE)
    yacc = require("ply.yacc", extra="thrift", feature=FEATURE)
    return yacc.yacc(module=grammar, debug=False, write_tables=False)
