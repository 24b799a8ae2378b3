"""check_protobuf_compatibility: buf's rules and a real round trip over two .proto versions.

The fixtures are an orders/payments API (schemas/proto/v1): nested messages, enums, maps, oneofs,
well-known types, unary and streaming RPCs, an events file in another package, and a proto2 ledger.
v2 is a compatible evolution; each breaking case is v1 with one edit, written next to the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ipc import ContractError, check_protobuf_compatibility
from pytest_ipc.contracts import CompatibilityReport
from pytest_ipc.protobuf import compile_proto

SCHEMAS = Path(__file__).parent / "schemas" / "proto"
V1, V2 = SCHEMAS / "v1", SCHEMAS / "v2"


def edited(tmp_path: Path, name: str, *edits: tuple[str, str], source: Path = V1) -> Path:
    """v1's `name` with each (old, new) text edit applied once, in a folder of its own."""
    text = (source / name).read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"edit {old!r} must match exactly once"
        text = text.replace(old, new)
    folder = tmp_path / "edited"
    folder.mkdir(exist_ok=True)
    for sibling in source.glob("*.proto"):
        (folder / sibling.name).write_text(sibling.read_text())
    (folder / name).write_text(text)
    return folder / name


def failure_lines(error: pytest.ExceptionInfo[ContractError]) -> list[str]:
    return list(error.value.mismatches)


def rules_of(findings: list[object]) -> set[str]:
    return {str(finding).split(" at ", 1)[0] for finding in findings}


# -- compatible evolutions pass -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["BACKWARD", "FORWARD", "FULL"])
def test_v2_is_compatible_in_every_mode_and_says_what_to_watch(mode: str) -> None:
    report = check_protobuf_compatibility(V1 / "orders.proto", V2 / "orders.proto", mode)
    assert isinstance(report, CompatibilityReport) and report.compatible
    # executed: the messages declared differently, Order and the three that carry it or its Status, one
    # sample per Status value written (PlaceOrderRequest: one); v2's writers have one value more
    assert report.records_checked == {"BACKWARD": 10, "FORWARD": 13, "FULL": 23}[mode]
    # a field deleted with its number and name reserved only breaks generated code
    expected = {"FIELD_NO_DELETE"}
    if mode != "BACKWARD":  # old readers meet the new enum value and new clients call the new RPC
        expected |= {"ENUM_VALUE_ADDED", "RPC_ADDED"}
    assert rules_of(report.warnings) == expected


def test_a_stricter_category_turns_the_source_break_into_a_failure() -> None:
    with pytest.raises(ContractError, match=r"not BACKWARD compatible \(FILE enforced\):") as caught:
        check_protobuf_compatibility(V1 / "orders.proto", V2 / "orders.proto", "BACKWARD", category="FILE")
    assert failure_lines(caught) == [
        "FIELD_NO_DELETE at orders.proto:shop.orders.v1.Order.signature: field 15 (bytes signature) deleted; "
        "generated code loses the field (BACKWARD and FORWARD; breaks FILE, PACKAGE)"
    ]


def test_a_new_enum_value_passes_the_wire_and_breaks_old_json_readers() -> None:
    check_protobuf_compatibility(V1 / "orders.proto", V2 / "orders.proto", "FORWARD")
    with pytest.raises(ContractError, match=r"not FORWARD compatible \(WIRE_JSON enforced\)") as caught:
        check_protobuf_compatibility(V1 / "orders.proto", V2 / "orders.proto", "FORWARD", category="WIRE_JSON")
    lines = failure_lines(caught)
    assert lines[0].startswith(
        "ENUM_VALUE_ADDED at orders.proto:shop.orders.v1.Order.Status.REFUNDED: value REFUNDED = 4 added; old readers keep "
        "the number on the wire but cannot name it, and JSON writes the name, which they drop (FORWARD (new → old); "
        "breaks FILE, PACKAGE, WIRE_JSON)"
    )
    assert lines[1].startswith(
        "ROUND_TRIP at orders.proto:shop.orders.v1.Order.status: shop.orders.v1.Order.status written by the new version "
        "as JSON (#3) reads as unset in the old one"
    )
    assert {line.split(":")[1].split(";")[0] for line in lines[1:]} == {
        "shop.orders.v1.Order.status",
        "shop.orders.v1.PlaceOrderResponse.status",
        "shop.orders.v1.WatchOrdersRequest.statuses",
    }


def test_schemas_compiled_beforehand_are_accepted() -> None:
    old, new = compile_proto(V1 / "orders.proto"), compile_proto(V2 / "orders.proto")
    assert check_protobuf_compatibility(old, new, "FULL").compatible


# -- every rule catches its breaking change -------------------------------------------------------------
ORDER = "orders.proto:shop.orders.v1.Order"
BREAKING = {
    "field deleted, number free": (
        [("  bytes signature = 15;\n", "")],
        "BACKWARD",
        "WIRE",
        f"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED at {ORDER}.signature: field 15 (bytes signature) deleted; "
        "a later field may reuse number 15",
    ),
    "field deleted, name free": (
        [("  bytes signature = 15;\n", "  reserved 15;\n")],
        "BACKWARD",
        "WIRE_JSON",
        f"FIELD_NO_DELETE_UNLESS_NAME_RESERVED at {ORDER}.signature: field 15 (bytes signature) deleted; "
        "JSON readers and writers still use the name 'signature'",
    ),
    "wire-incompatible type": (
        [("Money total = 6;", "string total = 6;")],
        "BACKWARD",
        "WIRE",
        f"FIELD_WIRE_COMPATIBLE_TYPE at {ORDER}.total: field 6 changed type from shop.orders.v1.Money to string",
    ),
    "number reused": (
        [("  google.protobuf.Duration hold = 13;\n", "  double weight_kg = 13;\n")],
        "FORWARD",
        "WIRE",
        f"FIELD_WIRE_COMPATIBLE_TYPE at {ORDER}.hold: field number 13 reused: google.protobuf.Duration hold is now double weight_kg",
    ),
    "JSON-incompatible type": (
        [("int32 expiry_year = 4;", "int64 expiry_year = 4;")],
        "BACKWARD",
        "WIRE_JSON",
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE at orders.proto:shop.orders.v1.Card.expiry_year: field 4 changed type from int32 to int64; "
        "the binary encoding is compatible, the JSON one is not",
    ),
    "source-only type change": (
        [("int32 expiry_month = 3;", "uint32 expiry_month = 3;")],
        "BACKWARD",
        "FILE",
        "FIELD_SAME_TYPE at orders.proto:shop.orders.v1.Card.expiry_month: field 3 changed type from int32 to uint32",
    ),
    "bytes to string": (
        [("bytes signature = 15;", "string signature = 15;")],
        "BACKWARD",
        "WIRE",
        f"FIELD_WIRE_COMPATIBLE_TYPE at {ORDER}.signature: field 15 changed type from bytes to string; "
        "bytes that are not valid UTF-8 fail to parse as a string (BACKWARD (old → new);",
    ),
    "singular to repeated": (
        [("  string customer_id = 2;\n", "  repeated string customer_id = 2;\n")],
        "FORWARD",
        "WIRE",
        f"FIELD_WIRE_COMPATIBLE_CARDINALITY at {ORDER}.customer_id: field 2 cardinality changed from implicit to repeated",
    ),
    "list to map": (
        [("repeated string tags = 4;", "map<string, string> tags = 4;")],
        "BACKWARD",
        "WIRE",
        f"FIELD_WIRE_COMPATIBLE_CARDINALITY at {ORDER}.Line.tags: field 4 cardinality changed from repeated to map",
    ),
    "map to its list of entries": (
        [
            ("  map<string, string> labels = 5;\n", "  repeated Label labels = 5;\n"),
            ("message Card {", "message Label {\n  string key = 1;\n  string value = 2;\n}\n\nmessage Card {"),
        ],
        "FULL",
        "WIRE_JSON",
        f"FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY at {ORDER}.labels: field 5 cardinality changed from map to repeated; "
        "the binary encoding is the same",
    ),
    "presence added": (
        [("  string customer_id = 2;\n", "  optional string customer_id = 2;\n")],
        "BACKWARD",
        "FILE",
        f"FIELD_SAME_CARDINALITY at {ORDER}.customer_id: field 2 cardinality changed from implicit to optional",
    ),
    "field moved out of a oneof": (
        [("    string voucher_code = 11;\n  }\n", "  }\n  string voucher_code = 11;\n")],
        "BACKWARD",
        "WIRE",
        f"FIELD_SAME_ONEOF at {ORDER}.voucher_code: field 11 moved from oneof payment to no oneof",
    ),
    "oneof renamed": (
        [("oneof payment {", "oneof payment_method {")],
        "BACKWARD",
        "FILE",
        f"ONEOF_NO_DELETE at {ORDER}.payment: oneof deleted",
    ),
    "field renamed": (
        [("string customer_id = 2;", "string buyer_id = 2;")],
        "BACKWARD",
        "WIRE_JSON",
        f"FIELD_SAME_NAME at {ORDER}.customer_id: field 2 renamed from 'customer_id' to 'buyer_id'",
    ),
    "JSON name changed": (
        [("string voucher_code = 11;", 'string voucher_code = 11 [json_name = "voucher"];')],
        "FULL",
        "WIRE_JSON",
        f"FIELD_SAME_JSON_NAME at {ORDER}.voucher_code: field 11 JSON name changed from 'voucherCode' to 'voucher'",
    ),
    "reservation dropped": (
        [("  reserved 9;\n", "")],
        "BACKWARD",
        "WIRE",
        f"RESERVED_MESSAGE_NO_DELETE at {ORDER}: reserved number(s) 9 no longer reserved",
    ),
    "reserved name dropped": (
        [('  reserved "legacy_ref";\n', "")],
        "BACKWARD",
        "WIRE",
        f"RESERVED_MESSAGE_NO_DELETE at {ORDER}: reserved name 'legacy_ref' no longer reserved",
    ),
    "enum value deleted": (
        [("    SHIPPED = 3;\n", "")],
        "BACKWARD",
        "WIRE",
        f"ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED at {ORDER}.Status.SHIPPED: value SHIPPED = 3 deleted",
    ),
    "enum value deleted, name free": (
        [("    SHIPPED = 3;\n", "    reserved 3;\n")],
        "BACKWARD",
        "WIRE_JSON",
        f"ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED at {ORDER}.Status.SHIPPED: value SHIPPED = 3 deleted",
    ),
    "enum value deleted, all reserved": (
        [("    SHIPPED = 3;\n", '    reserved 3;\n    reserved "SHIPPED";\n')],
        "BACKWARD",
        "FILE",
        f"ENUM_VALUE_NO_DELETE at {ORDER}.Status.SHIPPED: value SHIPPED = 3 deleted",
    ),
    "enum value renamed": (
        [("PAID = 2;", "SETTLED = 2;")],
        "BACKWARD",
        "WIRE_JSON",
        f"ENUM_VALUE_SAME_NAME at {ORDER}.Status.PAID: value 2 renamed from PAID to SETTLED",
    ),
    "message deleted": (
        [("message GetOrderRequest {\n  string order_id = 1;\n}\n", ""), ("GetOrder(GetOrderRequest)", "GetOrder(PlaceOrderResponse)")],
        "BACKWARD",
        "FILE",
        "MESSAGE_NO_DELETE at orders.proto:shop.orders.v1.GetOrderRequest: message deleted",
    ),
    "enum deleted": (
        [
            ("enum Currency {\n  CURRENCY_UNSPECIFIED = 0;\n  EUR = 1;\n  USD = 2;\n}\n", ""),
            ("  Currency currency = 1;\n", "  string currency = 1;\n"),
        ],
        "BACKWARD",
        "FILE",
        "ENUM_NO_DELETE at orders.proto:shop.orders.v1.Currency: enum deleted",
    ),
    "service deleted": (
        [("service Payments {\n  rpc Capture(PaymentEvent) returns (PaymentEvent);\n}\n", "")],
        "BACKWARD",
        "WIRE",
        "SERVICE_NO_DELETE at orders.proto:shop.orders.v1.Payments: service deleted; "
        "clients built on the old version call it and get UNIMPLEMENTED",
    ),
    "RPC deleted": (
        [("  rpc GetOrder(GetOrderRequest) returns (Order);\n", "")],
        "BACKWARD",
        "WIRE",
        "RPC_NO_DELETE at orders.proto:shop.orders.v1.Orders.GetOrder: RPC deleted",
    ),
    "server streaming dropped": (
        [("returns (stream Order)", "returns (Order)")],
        "FORWARD",
        "WIRE",
        "RPC_SAME_SERVER_STREAMING at orders.proto:shop.orders.v1.Orders.WatchOrders: server streaming changed from True to False",
    ),
    "client streaming dropped": (
        [("StreamPayments(stream PaymentEvent)", "StreamPayments(PaymentEvent)")],
        "BACKWARD",
        "WIRE",
        "RPC_SAME_CLIENT_STREAMING at orders.proto:shop.orders.v1.Orders.StreamPayments: client streaming changed from True to False",
    ),
    "request type changed": (
        [("GetOrder(GetOrderRequest)", "GetOrder(WatchOrdersRequest)")],
        "BACKWARD",
        "WIRE",
        "RPC_SAME_REQUEST_TYPE at orders.proto:shop.orders.v1.Orders.GetOrder: request type changed from "
        "shop.orders.v1.GetOrderRequest to shop.orders.v1.WatchOrdersRequest",
    ),
    "response type changed": (
        [("Capture(PaymentEvent) returns (PaymentEvent)", "Capture(PaymentEvent) returns (PlaceOrderResponse)")],
        "BACKWARD",
        "WIRE",
        "RPC_SAME_RESPONSE_TYPE at orders.proto:shop.orders.v1.Payments.Capture: response type changed",
    ),
    "idempotency level changed": (
        [("returns (Order);", "returns (Order) { option idempotency_level = NO_SIDE_EFFECTS; }")],
        "BACKWARD",
        "WIRE",
        "RPC_SAME_IDEMPOTENCY_LEVEL at orders.proto:shop.orders.v1.Orders.GetOrder: idempotency level changed from 0 to 1",
    ),
    "package renamed": (
        [("package shop.orders.v1;", "package shop.orders.v2;")],
        "BACKWARD",
        "WIRE",
        "FILE_SAME_PACKAGE at orders.proto: package changed from 'shop.orders.v1' to 'shop.orders.v2'; "
        "every type's full name changes, so do gRPC method paths",
    ),
}


@pytest.mark.parametrize("case", BREAKING)
def test_each_rule_catches_its_breaking_change(tmp_path: Path, case: str) -> None:
    edits, mode, category, expected = BREAKING[case]
    changed = edited(tmp_path, "orders.proto", *edits)
    with pytest.raises(ContractError, match=f"Protobuf schemas are not {mode} compatible \\({category} enforced\\)") as caught:
        check_protobuf_compatibility(V1 / "orders.proto", changed, mode, category=category)
    assert any(line.startswith(expected) for line in failure_lines(caught)), "\n".join(failure_lines(caught))


def test_deleting_a_file_and_its_package_breaks_generated_code() -> None:
    old = compile_proto(V1 / "orders.proto", V1 / "events.proto")
    new = compile_proto(V2 / "orders.proto")
    check_protobuf_compatibility(old, new, "FULL")  # nothing on the wire reads events through orders.proto
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(old, new, "FULL", category="PACKAGE")
    assert set(failure_lines(caught)) >= {
        "PACKAGE_NO_DELETE at events.proto: package 'shop.events.v1' deleted; code that imports it breaks "
        "(BACKWARD and FORWARD; breaks FILE, PACKAGE)",
        "MESSAGE_NO_DELETE at events.proto:shop.events.v1.OrderCancelled: message deleted; code that uses it breaks, "
        "and fields of this type are gone too; deprecate it instead "
        "(BACKWARD and FORWARD; breaks FILE, PACKAGE)",
    }
    with pytest.raises(ContractError, match=r"FILE_NO_DELETE at events\.proto: file deleted"):
        check_protobuf_compatibility(old, new, "FULL", category="FILE")


# -- by rule and by execution ---------------------------------------------------------------------------
def test_execution_catches_a_wire_corruption_and_names_the_field(tmp_path: Path) -> None:
    changed = edited(tmp_path, "orders.proto", ("int32 expiry_month = 3;", "string expiry_month = 3;"))
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(V1 / "orders.proto", changed, "FULL")
    report = caught.value.result
    executed = [str(finding) for finding in report.failures if finding.rule == "ROUND_TRIP"]
    assert executed == [
        "ROUND_TRIP at orders.proto:shop.orders.v1.Card.expiry_month: shop.orders.v1.Card.expiry_month written by the "
        "old version (#3) landed in the reader's unknown fields in the new one; readers see something else than was "
        "written (BACKWARD (old → new); breaks FILE, PACKAGE, WIRE_JSON, WIRE)",
        "ROUND_TRIP at orders.proto:shop.orders.v1.Card.expiry_month: shop.orders.v1.Card.expiry_month written by the "
        "new version (#3) landed in the reader's unknown fields in the old one; readers see something else than was "
        "written (FORWARD (new → old); breaks FILE, PACKAGE, WIRE_JSON, WIRE)",
    ]
    assert rules_of(report.failures) == {"ROUND_TRIP", "FIELD_WIRE_COMPATIBLE_TYPE"}


def test_execution_sees_map_entries_the_reader_cannot_parse(tmp_path: Path) -> None:
    changed = edited(tmp_path, "orders.proto", ("map<string, string> labels = 5;", "map<string, int64> labels = 5;"))
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(V1 / "orders.proto", changed, "BACKWARD")
    assert [line.split(";")[0] for line in failure_lines(caught)] == [
        f"FIELD_WIRE_COMPATIBLE_TYPE at {ORDER}.labels: field 5 changed type from map<string, string> to map<string, int64>",
        f"ROUND_TRIP at {ORDER}.labels: shop.orders.v1.Order.labels written by the old version (#5) landed in the reader's "
        "unknown fields in the new one",
    ]


def test_execution_sees_the_widened_int_truncated_by_old_readers_only(tmp_path: Path) -> None:
    changed = edited(tmp_path, "orders.proto", ("int32 expiry_year = 4;", "int64 expiry_year = 4;"))
    report = check_protobuf_compatibility(V1 / "orders.proto", changed, "BACKWARD")
    assert rules_of(report.warnings) == {"FIELD_WIRE_JSON_COMPATIBLE_TYPE"}
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(V1 / "orders.proto", changed, "FORWARD")
    assert failure_lines(caught) == [
        "ROUND_TRIP at orders.proto:shop.orders.v1.Card.expiry_year: shop.orders.v1.Card.expiry_year written by the new "
        "version -5000000401 read as -705033105 in the old one; readers see something else than was written "
        "(FORWARD (new → old); breaks FILE, PACKAGE, WIRE_JSON, WIRE)"
    ]


def test_a_rename_survives_the_wire_and_is_flagged_as_a_json_and_source_break(tmp_path: Path) -> None:
    changed = edited(tmp_path, "orders.proto", ("string customer_id = 2;", "string buyer_id = 2;"))
    report = check_protobuf_compatibility(V1 / "orders.proto", changed, "FULL")
    assert report.compatible and report.records_checked == 8  # Order (3 samples) and PlaceOrderRequest, both ways
    (warning,) = report.warnings
    assert (warning.rule, warning.categories, warning.directions) == (
        "FIELD_SAME_NAME",
        ("FILE", "PACKAGE", "WIRE_JSON"),
        ("BACKWARD", "FORWARD"),
    )
    with pytest.raises(ContractError) as caught:  # and JSON, which WIRE_JSON also round-trips, loses the value
        check_protobuf_compatibility(V1 / "orders.proto", changed, "FULL", category="WIRE_JSON")
    assert [line.split(";")[0] for line in failure_lines(caught)] == [
        f"FIELD_SAME_NAME at {ORDER}.customer_id: field 2 renamed from 'customer_id' to 'buyer_id'",
        f"ROUND_TRIP at {ORDER}.buyer_id: shop.orders.v1.Order.buyer_id written by the new version as JSON (#2) reads as "
        "unset in the old one",
        f"ROUND_TRIP at {ORDER}.customer_id: shop.orders.v1.Order.customer_id written by the old version as JSON (#2) reads "
        "as unset in the new one",
    ]


# -- proto2: required fields, closed enums, defaults -------------------------------------------------------
ENTRY = "ledger.proto:shop.ledger.v1.Entry"


def test_a_new_required_field_breaks_new_readers_of_old_data(tmp_path: Path) -> None:
    changed = edited(
        tmp_path, "ledger.proto", ("  optional string memo = 4;\n", "  optional string memo = 4;\n  required string account = 5;\n")
    )
    check_protobuf_compatibility(V1 / "ledger.proto", changed, "FORWARD")
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(V1 / "ledger.proto", changed, "BACKWARD")
    (rule, executed) = failure_lines(caught)
    assert executed.startswith(
        f"ROUND_TRIP at {ENTRY}: a shop.ledger.v1.Entry written by the old version lacks required field(s) account "
        "of the new one; readers that check required fields (C++, Java, Go) reject every such message"
    )
    assert rule.startswith(f"MESSAGE_SAME_REQUIRED_FIELDS at {ENTRY}.account: required field 5 added; old writers never set it")


def test_a_value_added_to_a_closed_enum_is_lost_by_old_readers(tmp_path: Path) -> None:
    changed = edited(tmp_path, "ledger.proto", ("  CREDIT = 2;\n", "  CREDIT = 2;\n  REFUND = 3;\n"))
    check_protobuf_compatibility(V1 / "ledger.proto", changed, "BACKWARD")
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(V1 / "ledger.proto", changed, "FORWARD")
    assert failure_lines(caught) == [
        "ENUM_VALUE_ADDED at ledger.proto:shop.ledger.v1.Kind.REFUND: value REFUND = 3 added; old readers of this closed "
        "(proto2) enum drop the value into unknown fields: the field reads as unset (FORWARD (new → old); breaks FILE, "
        "PACKAGE, WIRE_JSON, WIRE)",
        f"ROUND_TRIP at {ENTRY}.kind: shop.ledger.v1.Entry.kind written by the new version (#2) landed in the reader's "
        "unknown fields in the old one; readers see something else than was written (FORWARD (new → old); breaks "
        "FILE, PACKAGE, WIRE_JSON, WIRE)",
    ]


def test_a_changed_default_and_a_relaxed_required_field_are_caught(tmp_path: Path) -> None:
    changed = edited(tmp_path, "ledger.proto", ("[default = 0]", "[default = 100]"), ("required string id = 1;", "optional string id = 1;"))
    with pytest.raises(ContractError) as caught:
        check_protobuf_compatibility(V1 / "ledger.proto", changed, "FORWARD")
    assert [line.split(";")[0] for line in failure_lines(caught)] == [
        f"FIELD_SAME_DEFAULT at {ENTRY}.amount: field 3 default changed from 0 to 100",
        f"MESSAGE_SAME_REQUIRED_FIELDS at {ENTRY}.id: field 1 cardinality changed from required to optional",
    ]


# -- usage errors -------------------------------------------------------------------------------------------
def test_a_bad_mode_or_category_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'SIDEWAYS'; choose one of BACKWARD, FORWARD, FULL"):
        check_protobuf_compatibility(V1 / "orders.proto", V2 / "orders.proto", "SIDEWAYS")
    with pytest.raises(ValueError, match="'JSON'; choose one of FILE, PACKAGE, WIRE_JSON, WIRE"):
        check_protobuf_compatibility(V1 / "orders.proto", V2 / "orders.proto", category="JSON")
