"""`.proto` files compiled here: side by side versions, generated modules, errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ipc.protobuf import ProtoSchemaError, compile_proto, schema_of_modules

ORDERS_V1 = """
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
message Order { int64 id = 1; string sku = 2; google.protobuf.Timestamp at = 3; }
service Orders { rpc Get(Order) returns (Order); rpc Watch(Order) returns (stream Order); }
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_two_versions_of_one_file_live_side_by_side(tmp_path: Path) -> None:
    old = compile_proto(write(tmp_path / "v1", "orders.proto", ORDERS_V1))
    new = compile_proto(write(tmp_path / "v2", "orders.proto", ORDERS_V1.replace("string sku = 2;", "string sku = 2; int32 count = 4;")))
    assert old.package == "shop.v1" and set(old.services()) == {"shop.v1.Orders"}
    wire = new.message_class("Order")(id=7, sku="tea", count=3).SerializeToString()
    read_by_old = old.message_class("shop.v1.Order").FromString(wire)
    assert (read_by_old.id, read_by_old.sku) == (7, "tea")
    assert [method.name for method in old.service("Orders").methods] == ["Get", "Watch"]


def test_generated_modules_are_a_schema_too() -> None:
    from google.protobuf import timestamp_pb2

    schema = schema_of_modules(timestamp_pb2)
    assert schema.message_class("Timestamp")(seconds=5).seconds == 5


def test_errors_name_the_file_line_and_known_names(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.proto", 'syntax = "proto3";\nmessage X { int64 id = 1 }\n')
    with pytest.raises(ProtoSchemaError, match=r"broken\.proto:2:26: Expected \";\""):
        compile_proto(broken)
    schema = compile_proto(write(tmp_path / "ok", "orders.proto", ORDERS_V1))
    with pytest.raises(ProtoSchemaError, match=r"message 'Nope' is not declared; messages: shop\.v1\.Order"):
        schema.message("Nope")
    with pytest.raises(ProtoSchemaError, match=r"no \.proto file at"):
        compile_proto(tmp_path / "missing.proto")
    with pytest.raises(ProtoSchemaError, match="not a generated"):
        schema_of_modules(pytest)
