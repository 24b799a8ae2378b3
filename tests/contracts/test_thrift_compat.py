"""check_thrift_compatibility: IDL rules and a real binary + compact round trip over two .thrift versions.

The fixtures are an orders/payments IDL (schemas/thrift/v1): enums, nested structs, a union, lists,
sets and maps, exceptions, two services with a oneway method. v2 is a compatible evolution; each
breaking case is v1 with one edit, written next to the test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_ipc import ContractError, check_thrift_compatibility
from pytest_ipc.thrift_idl import load_thrift

SCHEMAS = Path(__file__).parent / "schemas" / "thrift"
V1, V2 = SCHEMAS / "v1" / "orders.thrift", SCHEMAS / "v2" / "orders.thrift"


def edited(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """v1 with each (old, new) text edit applied once."""
    text = V1.read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"edit {old!r} must match exactly once"
        text = text.replace(old, new)
    path = tmp_path / "orders.thrift"
    path.write_text(text)
    return path


def rules_of(findings: list[object]) -> set[str]:
    return {str(finding).split(" at ", 1)[0] for finding in findings}


# -- compatible evolutions pass -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["BACKWARD", "FORWARD", "FULL"])
def test_v2_is_compatible_in_every_mode(mode: str) -> None:
    report = check_thrift_compatibility(V1, V2, mode)
    # Order changed (3 full samples, one per Status, and 1 with only its required fields), and so did the 3
    # argument lists and results that carry one (1 + 1 samples each); each sample over binary and compact
    assert report.compatible and report.records_checked == (40 if mode == "FULL" else 20)
    # the retired field only breaks generated code; new clients may call the new method on an old server
    assert rules_of(report.warnings) == ({"FIELD_NO_DELETE"} if mode == "BACKWARD" else {"FIELD_NO_DELETE", "RPC_ADDED"})


def test_two_versions_of_one_file_load_side_by_side_and_once_each() -> None:
    old, new = load_thrift(V1), load_thrift(V2)
    assert old is not new and old.Order is not new.Order and load_thrift(V1) is old
    assert old.__name__ not in sys.modules and old.__name__.endswith("_thrift")
    assert "gift_message" in {spec[1] for spec in new.Order.thrift_spec.values()}
    assert check_thrift_compatibility(old, new, "FULL").compatible  # loaded modules are accepted too


# -- every rule catches its breaking change -------------------------------------------------------------
BREAKING = {
    "type changed": (
        [("  7: optional i64 placed_at,\n", "  7: optional string placed_at,\n")],
        "BACKWARD",
        "WIRE",
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Order.placed_at: field 7 changed type from i64 to string; "
        "i64 on the wire is not string",
    ),
    "container element type changed": (
        [("  4: optional list<string> tags,\n", "  4: optional list<i64> tags,\n")],
        "FORWARD",
        "WIRE",
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Line.tags: field 4 changed type from list<string> to list<i64>",
    ),
    "id reused": (
        [("  9: optional set<string> coupons,\n", "  9: optional double discount,\n")],
        "BACKWARD",
        "WIRE",
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Order.coupons: field id 9 reused: now double discount",
    ),
    "binary to string": (
        [("  10: optional binary signature,\n", "  10: optional string signature,\n")],
        "BACKWARD",
        "WIRE",
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Order.signature: field 10 changed type from binary to string; "
        "binary that is not valid UTF-8 fails to decode as a string (BACKWARD (old → new)",
    ),
    "enum to i32": (
        [("  3: optional Status status,\n", "  3: optional i32 status,\n")],
        "FULL",
        "FILE",
        "FIELD_SAME_TYPE at orders.thrift:Order.status: field 3 changed type from Status to i32; the wire encoding is the same",
    ),
    "field renamed": (
        [("  2: optional string customer_id,\n", "  2: optional string buyer_id,\n")],
        "FULL",
        "PACKAGE",
        "FIELD_SAME_NAME at orders.thrift:Order.customer_id: field 2 renamed from 'customer_id' to 'buyer_id'",
    ),
    "field deleted": (
        [("  9: optional set<string> coupons,\n", "")],
        "BACKWARD",
        "FILE",
        "FIELD_NO_DELETE at orders.thrift:Order.coupons: field 9 (set<string> coupons) deleted; Thrift cannot reserve an id",
    ),
    "union member deleted": (
        [("  2: string voucher_code,\n", "")],
        "BACKWARD",
        "WIRE",
        "UNION_MEMBER_NO_DELETE at orders.thrift:Payment.voucher_code: field 2 (string voucher_code) deleted; old writers "
        "still choose it, and new readers get a union with no member set",
    ),
    "optional made required": (
        [("  2: optional string customer_id,\n", "  2: required string customer_id,\n")],
        "BACKWARD",
        "WIRE",
        "FIELD_SAME_REQUIREDNESS at orders.thrift:Order.customer_id: field 2 changed from optional to required",
    ),
    "required made optional": (
        [("  1: required string sku,\n", "  1: optional string sku,\n")],
        "FORWARD",
        "WIRE",
        "FIELD_SAME_REQUIREDNESS at orders.thrift:Line.sku: field 1 changed from required to optional",
    ),
    "required field added": (
        [("  3: optional i32 nanos,\n", "  3: optional i32 nanos,\n  4: required string region,\n")],
        "BACKWARD",
        "WIRE",
        "STRUCT_SAME_REQUIRED_FIELDS at orders.thrift:Money.region: required field 4 added; old writers never set it",
    ),
    "required field deleted": (
        [("  1: required string order_id,\n  2: optional string reason,\n", "  2: optional string reason,\n")],
        "FORWARD",
        "WIRE",
        "STRUCT_SAME_REQUIRED_FIELDS at orders.thrift:OrderCancelled.order_id: required field 1 deleted",
    ),
    "default changed": (
        [("  2: optional i32 quantity = 1,\n", "  2: optional i32 quantity = 2,\n")],
        "BACKWARD",
        "WIRE",
        "FIELD_SAME_DEFAULT at orders.thrift:Line.quantity: field 2 default changed from 1 to 2",
    ),
    "struct deleted": (
        [("struct OrderCancelled {\n  1: required string order_id,\n  2: optional string reason,\n  3: optional Money refund,\n}\n", "")],
        "BACKWARD",
        "FILE",
        "STRUCT_NO_DELETE at orders.thrift:OrderCancelled: struct deleted",
    ),
    "exception deleted": (
        [
            ("exception PaymentDeclined {\n  1: string reason,\n  2: optional Money amount,\n}\n", ""),
            (", 2: PaymentDeclined declined)", ")"),
        ],
        "BACKWARD",
        "FILE",
        "EXCEPTION_NO_DELETE at orders.thrift:PaymentDeclined: exception deleted",
    ),
    "enum deleted": (
        [("enum Currency {\n  EUR = 1,\n  USD = 2,\n}\n", ""), ("  1: required Currency currency,\n", "  1: required i32 currency,\n")],
        "BACKWARD",
        "FILE",
        "ENUM_NO_DELETE at orders.thrift:Currency: enum deleted",
    ),
    "enum value deleted": (
        [("  SHIPPED = 3,\n", "")],
        "BACKWARD",
        "WIRE",
        "ENUM_VALUE_NO_DELETE at orders.thrift:Status.SHIPPED: value SHIPPED = 3 deleted; old writers still send it",
    ),
    "enum value renamed": (
        [("  PAID = 2,\n", "  SETTLED = 2,\n")],
        "BACKWARD",
        "FILE",
        "ENUM_VALUE_SAME_NAME at orders.thrift:Status.PAID: value 2 renamed from PAID to SETTLED",
    ),
    "enum value added": (
        [("  SHIPPED = 3,\n", "  SHIPPED = 3,\n  REFUNDED = 4,\n")],
        "FORWARD",
        "WIRE",
        "ENUM_VALUE_ADDED at orders.thrift:Status.REFUNDED: value REFUNDED = 4 added; old readers in Java and others map "
        "an unknown value to null",
    ),
    "service deleted": (
        [("service Payments {\n  Money refund(1: string order_id, 2: Money amount),\n}\n", "")],
        "BACKWARD",
        "WIRE",
        "SERVICE_NO_DELETE at orders.thrift:Payments: service deleted; clients built on the old version call it",
    ),
    "method deleted": (
        [("  list<Order> list_orders(1: string customer_id, 2: set<Status> statuses),\n", "")],
        "BACKWARD",
        "WIRE",
        "RPC_NO_DELETE at orders.thrift:Orders.list_orders: method deleted",
    ),
    "argument type changed": (
        [("Order get_order(1: string order_id)", "Order get_order(1: i64 order_id)")],
        "BACKWARD",
        "WIRE",
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Orders.get_order(args).order_id: field 1 changed type from string to i64",
    ),
    "result type changed": (
        [("  Order get_order(", "  Money get_order(")],
        "BACKWARD",
        "WIRE",
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Orders.get_order(result).success: field 0 changed type from Order to Money",
    ),
    "exception added": (
        [("2: set<Status> statuses),", "2: set<Status> statuses) throws (1: OrderNotFound not_found),")],
        "BACKWARD",
        "WIRE",
        "RPC_SAME_RESULT at orders.thrift:Orders.list_orders(result).not_found: exception OrderNotFound not_found added (id 1); "
        "old clients cannot read it when it is thrown and fail with MISSING_RESULT",
    ),
    "return value dropped": (
        [("  string place_order(", "  void place_order(")],
        "BACKWARD",
        "WIRE",
        "RPC_SAME_RESULT at orders.thrift:Orders.place_order(result).success: return value removed (now void)",
    ),
    "oneway dropped": (
        [("  oneway void order_viewed(", "  void order_viewed(")],
        "FORWARD",
        "WIRE",
        "RPC_SAME_ONEWAY at orders.thrift:Orders.order_viewed: oneway changed from True to False",
    ),
}


@pytest.mark.parametrize("case", BREAKING)
def test_each_rule_catches_its_breaking_change(tmp_path: Path, case: str) -> None:
    edits, mode, category, expected = BREAKING[case]
    with pytest.raises(ContractError, match=f"Thrift IDLs are not {mode} compatible \\({category} enforced\\)") as caught:
        check_thrift_compatibility(V1, edited(tmp_path, *edits), mode, category=category)
    assert any(line.startswith(expected) for line in caught.value.mismatches), "\n".join(caught.value.mismatches)


# -- by rule and by execution ---------------------------------------------------------------------------
def test_execution_catches_a_wire_corruption_over_both_protocols(tmp_path: Path) -> None:
    changed = edited(tmp_path, ("  3: optional i32 nanos,\n", "  3: optional string nanos,\n"))
    with pytest.raises(ContractError) as caught:
        check_thrift_compatibility(V1, changed, "FULL")
    assert caught.value.mismatches == [
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Money.nanos: field 3 changed type from i32 to string; i32 on the wire "
        "is not string: readers skip the field, or fail on a mismatched container (BACKWARD and FORWARD; breaks FILE, "
        "PACKAGE, WIRE_JSON, WIRE)",
        "ROUND_TRIP at orders.thrift:Money.nanos: Money.nanos written by the new version, read by the old one over binary "
        "and compact: field 3 is skipped (its wire type differs) and reads as unset; readers see something else than was "
        "written (FORWARD (new → old); breaks FILE, PACKAGE, WIRE_JSON, WIRE)",
        "ROUND_TRIP at orders.thrift:Money.nanos: Money.nanos written by the old version, read by the new one over binary "
        "and compact: field 3 is skipped (its wire type differs) and reads as unset; readers see something else than was "
        "written (BACKWARD (old → new); breaks FILE, PACKAGE, WIRE_JSON, WIRE)",
    ]


def test_execution_sees_a_required_field_old_writers_leave_unset(tmp_path: Path) -> None:
    changed = edited(tmp_path, ("  2: optional string customer_id,\n", "  2: required string customer_id,\n"))
    check_thrift_compatibility(V1, changed, "FORWARD")
    with pytest.raises(ContractError) as caught:
        check_thrift_compatibility(V1, changed, "BACKWARD")
    executed = [str(finding) for finding in caught.value.result.failures if finding.rule == "ROUND_TRIP"]
    assert executed[0].startswith(
        "ROUND_TRIP at orders.thrift:Order.customer_id: Order.customer_id written by the old version, read by the new one "
        "over binary and compact: required field 2 is missing, and readers that validate reject the struct"
    )


def test_a_rename_survives_the_wire_and_is_flagged_as_a_source_break(tmp_path: Path) -> None:
    changed = edited(tmp_path, ("  2: optional string customer_id,\n", "  2: optional string buyer_id,\n"))
    report = check_thrift_compatibility(V1, changed, "FULL")
    assert report.compatible and report.records_checked == 40
    (warning,) = report.warnings
    assert (warning.rule, warning.categories) == ("FIELD_SAME_NAME", ("FILE", "PACKAGE"))


def test_an_argument_type_change_is_seen_by_the_server_reading_old_clients_calls(tmp_path: Path) -> None:
    changed = edited(tmp_path, ("Order get_order(1: string order_id)", "Order get_order(1: i64 order_id)"))
    with pytest.raises(ContractError) as caught:
        check_thrift_compatibility(V1, changed, "BACKWARD")
    assert [line.split(";")[0] for line in caught.value.mismatches] == [
        "FIELD_WIRE_COMPATIBLE_TYPE at orders.thrift:Orders.get_order(args).order_id: field 1 changed type from string to i64",
        "ROUND_TRIP at orders.thrift:Orders.get_order(args).order_id: Orders.get_order(args).order_id written by the old "
        "version, read by the new one over binary and compact: field 1 is skipped (its wire type differs) and reads as unset",
    ]


def test_included_files_load_side_by_side_and_are_checked_too(tmp_path: Path) -> None:
    for version, units in (("v1", "i64"), ("v2", "string")):
        (tmp_path / version).mkdir()
        (tmp_path / version / "common.thrift").write_text(f"struct Money {{\n  1: required {units} units,\n}}\n")
        (tmp_path / version / "orders.thrift").write_text(
            'include "common.thrift"\n\nstruct Order {\n  1: required string id,\n  2: optional common.Money total,\n}\n'
        )
    old, new = load_thrift(tmp_path / "v1" / "orders.thrift"), load_thrift(tmp_path / "v2" / "orders.thrift")
    assert old.common.Money.thrift_spec[1][0] != new.common.Money.thrift_spec[1][0]  # each version its own common.thrift
    with pytest.raises(ContractError) as caught:
        check_thrift_compatibility(old, new, "BACKWARD")
    assert [line.split(";")[0] for line in caught.value.mismatches] == [
        "FIELD_WIRE_COMPATIBLE_TYPE at common.thrift:Money.units: field 1 changed type from i64 to string",
        "ROUND_TRIP at common.thrift:Money.units: Order.total.units written by the old version, read by the new one over "
        "binary and compact: field 1 is skipped (its wire type differs) and reads as unset",
    ]


# -- usage errors -------------------------------------------------------------------------------------------
def test_bad_input_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'SIDEWAYS'; choose one of BACKWARD, FORWARD, FULL"):
        check_thrift_compatibility(V1, V2, "SIDEWAYS")
    with pytest.raises(ValueError, match=r"no \.thrift file at .*missing\.thrift"):
        check_thrift_compatibility(V1, tmp_path / "missing.thrift")
    broken = tmp_path / "broken.thrift"
    broken.write_text("struct Order { 1: i64 id\n")
    with pytest.raises(ValueError, match=r"broken\.thrift is not valid Thrift IDL"):
        check_thrift_compatibility(V1, broken)
