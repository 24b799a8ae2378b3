"""pytest_ipc.thrift_idl: one loader for the Thrift stub and the compatibility check."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import thriftpy2

from pytest_ipc.thrift_idl import load_thrift


def test_same_named_files_load_side_by_side_out_of_sys_modules(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "shop.thrift", tmp_path / "b" / "shop.thrift"
    first.write_text("struct Item { 1: string sku }")
    second.write_text("struct Item { 1: i64 sku }")
    one, other = load_thrift(first), load_thrift(second)
    assert one.Item.thrift_spec[1][0] != other.Item.thrift_spec[1][0]
    assert load_thrift(first) is one  # parsed once
    assert one.__name__ not in sys.modules and other.__name__ not in sys.modules


def test_a_module_the_test_loaded_is_used_as_is(tmp_path: Path) -> None:
    idl = tmp_path / "ledger.thrift"
    idl.write_text("struct Entry { 1: i64 amount }")
    own = thriftpy2.load(str(idl), module_name="ledger_thrift")
    try:
        assert load_thrift(idl) is own and load_thrift(own) is own
    finally:
        del sys.modules["ledger_thrift"]


def test_bad_idl_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.thrift"
    broken.write_text("struct Entry {\n  1: i64 amount\n  2: Money total\n}\n")
    with pytest.raises(ValueError, match=r"broken\.thrift is not valid Thrift IDL: No type found: 'Money', at line 3"):
        load_thrift(broken)
    with pytest.raises(ValueError, match=r"no \.thrift file at .*missing\.thrift"):
        load_thrift(tmp_path / "missing.thrift")


def test_an_error_in_an_included_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "money.thrift").write_text("struct Money {\n  1: i64 units\n  2: Currency currency\n}\n")
    (tmp_path / "ledger.thrift").write_text('include "money.thrift"\nstruct Entry { 1: money.Money amount }\n')
    wanted = r"ledger\.thrift \(or a file it includes\) is not valid Thrift IDL: No type found: 'Currency', at line 3"
    with pytest.raises(ValueError, match=wanted):
        load_thrift(tmp_path / "ledger.thrift")
