"""Faults of the one vocabulary at the thrift layer, with real thriftpy2 clients: each is performed on
the wire, counted, and proven to have fired; the fault matrix runs over a Thrift target."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from thriftpy2.rpc import make_client
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TTransportException

from pytest_ipc import faults
from pytest_ipc.rpc.thrift import ThriftStub
from tests.rpc.thrift_clients import FALLBACK, IDL, InventoryClient, Policy, inventory

Connect = Callable[..., Any]
WIDGET = {"sku": "A-1", "name": "widget"}


@pytest.fixture
def served(thrift_stub: ThriftStub) -> ThriftStub:
    thrift_stub.serve(IDL)
    thrift_stub.expect("get_item").respond(WIDGET)
    return thrift_stub


@pytest.fixture
def connect(thrift_stub: ThriftStub) -> Iterator[Connect]:
    """`connect(timeout=)`: a thriftpy2 client (binary, buffered) of the stub's port, closed after the test."""
    made: list[Any] = []

    def connect(timeout: float = 2.0) -> Any:
        made.append(make_client(inventory.Inventory, thrift_stub.host, thrift_stub.port, timeout=round(timeout * 1000)))
        return made[-1]

    yield connect
    for client in made:
        client.close()


def test_latency_delays_the_answer(served: ThriftStub, connect: Connect) -> None:
    client = connect()
    with faults.inject(faults.latency(0.2), into=served) as active:
        started = time.monotonic()
        assert client.get_item("A-1").name == "widget"
        assert time.monotonic() - started >= 0.19
    assert active.activations() == 1
    assert served.calls()[0].faults == ["latency-200ms"]


def test_a_hung_call_ends_when_the_client_gives_up(served: ThriftStub, connect: Connect) -> None:
    client = connect(timeout=0.2)
    with faults.inject(faults.hang(), into=served):
        with pytest.raises(TimeoutError):
            client.get_item("A-1")
        client.close()  # the client gives up on the connection: the stub lets go of the call
        deadline = time.monotonic() + 2
        while served.calls()[0].ended is None and time.monotonic() < deadline:
            time.sleep(0.005)
    (call,) = served.calls()
    assert call.cancelled and call.duration is not None and 0.15 < call.duration < 1.0


@pytest.mark.parametrize(
    ("fault", "error"),
    [(faults.reset(), "Connection reset by peer|TSocket read 0 bytes"), (faults.empty_response(), "TSocket read 0 bytes")],
    ids=["reset", "closed"],
)
def test_the_connection_is_cut_instead_of_answered(served: ThriftStub, connect: Connect, fault: faults.Fault, error: str) -> None:
    with faults.inject(fault, into=served):
        with pytest.raises((TTransportException, ConnectionResetError), match=error):
            connect().get_item("A-1")
    assert [call.code for call in served.calls()] == ["UNAVAILABLE"]
    assert connect().get_item("A-1").name == "widget"  # healed: a new connection is answered


@pytest.mark.parametrize(
    ("fault", "kind", "message"),
    [
        (faults.thrift_error(), TApplicationException.INTERNAL_ERROR, "INTERNAL"),
        (faults.thrift_error("UNKNOWN_METHOD", message="get_item is gone"), TApplicationException.UNKNOWN_METHOD, "get_item is gone"),
        (faults.status(503), TApplicationException.INTERNAL_ERROR, "UNAVAILABLE"),
    ],
    ids=["internal-error", "unknown-method", "status-503"],
)
def test_application_exceptions(served: ThriftStub, connect: Connect, fault: faults.Fault, kind: int, message: str) -> None:
    with faults.inject(fault, into=served), pytest.raises(TApplicationException, match=message) as raised:
        connect().get_item("A-1")
    assert raised.value.type == kind


def test_an_idl_exception_and_fail_first(served: ThriftStub, connect: Connect) -> None:
    client = connect()
    with faults.inject(faults.thrift_error(inventory.ItemNotFound(sku="A-1", reason="recalled"), times=2), into=served) as active:
        for _ in range(2):
            with pytest.raises(inventory.ItemNotFound, match="recalled"):
                client.get_item("A-1")
        assert client.get_item("A-1").name == "widget"  # fail-first-N: then the real answer
    assert active.activations() == 2
    assert [call.code for call in served.calls()] == ["UNKNOWN", "UNKNOWN", "OK"]
    assert served.calls()[0].faults == ["thrift-itemnotfound-2x"]


def test_an_idl_exception_the_method_does_not_declare_is_reported(served: ThriftStub, connect: Connect) -> None:
    served.expect("ping").inject(faults.thrift_error(inventory.ItemNotFound(sku="A-1")))
    with pytest.raises(TApplicationException, match="does not fit the IDL") as raised:
        connect().ping()
    assert raised.value.type == TApplicationException.INTERNAL_ERROR
    assert "Inventory.ping does not declare ItemNotFound (its `throws`: none)" in (served.problems_report() or "")
    served.reset()


def test_a_fault_that_never_fired_fails(served: ThriftStub) -> None:
    never = r"hang was injected at the thrift layer and never fired, .* the thrift stub saw no call"
    with pytest.raises(faults.FaultNeverFired, match=never):
        with faults.inject(faults.hang(), into=served):
            pass


def test_faults_the_thrift_stub_cannot_perform_name_the_layers_that_can(served: ThriftStub) -> None:
    with pytest.raises(faults.FaultNotSupported, match=r"outage cannot be injected at the thrift layer .*; layers that can: respx, proxy"):
        faults.start(faults.outage(), served)
    only_thrift = r"thrift-internal-error cannot be injected at the stub layer .*; layers that can: thrift"
    with pytest.raises(faults.FaultNotSupported, match=only_thrift):
        faults.check_supported(faults.thrift_error(), "stub")
    with pytest.raises(faults.FaultUsageError, match=r"thrift_error: kind 'BOOM' is not a TApplicationException type; valid: UNKNOWN, "):
        faults.thrift_error("BOOM")


@pytest.mark.fault_matrix(
    faults=[faults.hang(), faults.reset(), faults.empty_response(), faults.thrift_error()], layers=["thrift", "proxy"]
)
def test_matrix_the_client_falls_back_on_every_fault(thrift_stub: ThriftStub, ipc_target: str) -> None:
    thrift_stub.serve(IDL)
    thrift_stub.expect("get_item").respond(WIDGET)
    host, port = ipc_target.rsplit(":", 1)
    started = time.monotonic()
    assert InventoryClient(host, int(port), policy=Policy(timeout=0.2, attempts=1)).item("A-1") == FALLBACK
    assert time.monotonic() - started < 1.0
