"""The shop's generated modules (protoc from grpcio-tools, as a user's build makes them) and the
schema compiled from the same .proto, for the gRPC stub's tests."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pytest_ipc.protobuf import ProtoSchema, compile_proto

PROTO = Path(__file__).parent / "protos" / "shop.proto"


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    """(shop_pb2, shop_pb2_grpc), generated for this session; their folder leaves sys.path afterwards."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("generated")
    well_known = Path(protoc.__file__).parent / "_proto"
    status = protoc.main(["protoc", f"-I{PROTO.parent}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}", PROTO.name])
    assert status == 0, "protoc failed on shop.proto"
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("shop_pb2"), importlib.import_module("shop_pb2_grpc")
    finally:
        sys.path.remove(str(out))
        for name in ("shop_pb2", "shop_pb2_grpc"):
            sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def shop_pb2(shop: tuple[ModuleType, ModuleType]) -> ModuleType:
    return shop[0]


@pytest.fixture(scope="session")
def shop_pb2_grpc(shop: tuple[ModuleType, ModuleType]) -> ModuleType:
    return shop[1]


@pytest.fixture(scope="session")
def shop_schema() -> ProtoSchema:
    return compile_proto(PROTO)
