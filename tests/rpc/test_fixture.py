"""The grpc_stub fixture as a user sees it: a pytest session run with pytester (in-process)."""

from __future__ import annotations

import pytest

from tests.rpc.conftest import PROTO

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")

USER_TESTS = """
import grpc
import pytest

from pytest_ipc.protobuf import compile_proto

SCHEMA = compile_proto({proto!r})
GetOrder = SCHEMA.message_class("shop.v1.GetOrder")


def get(stub, metadata=()):
    call = stub.channel().unary_unary("/shop.v1.Orders/Get", request_serializer=GetOrder.SerializeToString)
    with pytest.raises(grpc.RpcError) as caught:
        call(GetOrder(id="o-1"), metadata=metadata, timeout=2)
    return caught.value.code()


def test_unmatched(grpc_stub):
    grpc_stub.serve(SCHEMA)
    grpc_stub.expect("Orders/Get", metadata={{"x-tenant": "acme"}}).respond({{"status": "paid"}})
    assert get(grpc_stub, [("x-tenant", "other")]) == grpc.StatusCode.UNIMPLEMENTED


def test_allowed_in_code(grpc_stub):
    grpc_stub.allow_unmatched()
    assert get(grpc_stub) == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.grpc_stub_allow_unmatched
def test_allowed_by_marker(grpc_stub):
    assert get(grpc_stub) == grpc.StatusCode.UNIMPLEMENTED


def test_clean_after_the_others(grpc_stub, grpc_stub_server):
    assert grpc_stub is grpc_stub_server
    assert grpc_stub.calls() == [] and grpc_stub.routes == [] and grpc_stub.methods == {{}}
"""


def test_unmatched_calls_fail_the_test_at_teardown_with_a_readable_list(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS.format(proto=str(PROTO)))
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched*",
            "*grpc_stub: 1 call(s) matched no route (answered UNIMPLEMENTED):",
            "*/shop.v1.Orders/Get metadata={'x-tenant': 'other'}",
            "*closest: shop.v1.Orders/Get: metadata 'x-tenant' is 'other', expected 'acme'",
            "*(allow them with grpc_stub.allow_unmatched() or @pytest.mark.grpc_stub_allow_unmatched)",
        ]
    )
    pytester.runpytest_inprocess(*QUIET, "--ipc-grpc-allow-unmatched").assert_outcomes(passed=4)
