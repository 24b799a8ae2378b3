"""The Thrift stub with real thriftpy2 clients: IDL service, replies, sequences, scenarios, declared
and application exceptions, oneway calls, the journal, the wire it speaks and the per-test lifecycle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from thriftpy2.rpc import make_client
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TTransportException

from pytest_ipc.rpc.errors import RpcUsageError
from pytest_ipc.rpc.thrift import ThriftStub, ThriftUsageError
from tests.rpc.thrift_clients import IDL, PROTOCOLS, TRANSPORTS, inventory

Connect = Callable[..., Any]
WIRES = [("binary", "buffered"), ("compact", "framed")]


@pytest.fixture
def connect(thrift_stub: ThriftStub) -> Iterator[Connect]:
    """`connect(protocol=, transport=, timeout=)`: a thriftpy2 client of the stub's current port, closed after the test."""
    made: list[Any] = []

    def connect(protocol: str = "binary", transport: str = "buffered", timeout: float = 2.0) -> Any:
        client = make_client(
            inventory.Inventory, thrift_stub.host, thrift_stub.port,
            proto_factory=PROTOCOLS[protocol](), trans_factory=TRANSPORTS[transport](), timeout=round(timeout * 1000),
        )  # fmt: skip
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


@pytest.mark.parametrize(("protocol", "transport"), WIRES, ids=["binary-buffered", "compact-framed"])
def test_results_sequences_and_exceptions_on_both_wires(thrift_stub: ThriftStub, connect: Connect, protocol: str, transport: str) -> None:
    thrift_stub.serve(IDL, protocol=protocol, transport=transport)
    get = thrift_stub.expect("get_item", request={"sku": "A-1"}).respond(
        {"sku": "A-1", "name": "widget", "price": {"cents": 250, "currency": inventory.Currency.EUR}, "tags": ["blue"]}
    )
    missing = thrift_stub.expect("Inventory.get_item", request={"sku": "nope"}).respond(inventory.ItemNotFound(sku="nope", reason="gone"))
    reserve = thrift_stub.expect("reserve").fail_first(1).then_respond(inventory.Reservation("r-1", "A-1", 2)).then_respond(
        inventory.OutOfStock(sku="A-1", available=0)
    )
    thrift_stub.expect("stock_levels").respond({"A-1": 3, "B-2": 0})
    thrift_stub.expect("list_items").respond([{"sku": "A-1", "name": "widget"}, inventory.Item(sku="B-2", name="gadget")])
    client = connect(protocol, transport)

    item = client.get_item("A-1")
    assert item == inventory.Item(sku="A-1", name="widget", price=inventory.Money(250, inventory.Currency.EUR), tags=["blue"])
    with pytest.raises(inventory.ItemNotFound) as not_found:
        client.get_item("nope")
    assert not_found.value.reason == "gone"
    with pytest.raises(TApplicationException) as failed:
        client.reserve("A-1", 2)
    assert failed.value.type == TApplicationException.INTERNAL_ERROR and "UNAVAILABLE" in str(failed.value)
    assert client.reserve("A-1", 2).reservation_id == "r-1"
    with pytest.raises(inventory.OutOfStock):
        client.reserve("A-1", 5)
    assert client.stock_levels({"A-1", "B-2"}) == {"A-1": 3, "B-2": 0}
    assert [listed.sku for listed in client.list_items(10, None)] == ["A-1", "B-2"]

    assert [call.code for call in thrift_stub.calls(reserve)] == ["UNAVAILABLE", "OK", "UNKNOWN"]
    assert [call.request for call in thrift_stub.calls(missing)] == [{"sku": "nope"}]
    (seen,) = thrift_stub.calls(get)
    assert seen.method == "/Inventory/get_item" and seen.deadline is None and seen.ended is not None and seen.ended >= seen.started
    assert thrift_stub.calls("reserve")[0].request == {"sku": "A-1", "quantity": 2}


def test_void_oneway_and_application_errors(thrift_stub: ThriftStub, connect: Connect) -> None:
    thrift_stub.serve(IDL)
    audit = thrift_stub.expect("audit", request={"event": "viewed"})
    thrift_stub.expect("release")
    thrift_stub.expect("ping").respond(TApplicationException(TApplicationException.UNKNOWN_METHOD, "ping is retired"))
    client = connect()
    assert client.audit("viewed", {"sku": "A-1"}) is None  # oneway: nothing comes back
    assert client.release("r-1") is None
    with pytest.raises(TApplicationException, match="ping is retired") as retired:
        client.ping()
    assert retired.value.type == TApplicationException.UNKNOWN_METHOD
    deadline = time.monotonic() + 2
    while not thrift_stub.calls(audit) and time.monotonic() < deadline:
        time.sleep(0.005)  # a oneway call has no answer to wait for: poll the journal
    assert thrift_stub.calls(audit)[0].request == {"event": "viewed", "fields": {"sku": "A-1"}}
    assert thrift_stub.calls("ping")[0].code == "UNIMPLEMENTED"


def test_scenarios_move_between_states(thrift_stub: ThriftStub, connect: Connect) -> None:
    thrift_stub.serve(IDL)
    stock = thrift_stub.scenario("stock", initial="in", states=["in", "out"])
    thrift_stub.expect("reserve").in_state(stock, "in", then="out").respond(inventory.Reservation("r-1", "A-1", 1))
    thrift_stub.expect("reserve").in_state(stock, "out").respond(inventory.OutOfStock(sku="A-1", available=0))
    client = connect()
    assert client.reserve("A-1", 1).reservation_id == "r-1"
    with pytest.raises(inventory.OutOfStock):
        client.reserve("A-1", 1)
    assert stock.history == ["in", "out"]


def test_a_reply_the_idl_cannot_carry_is_internal_error_and_reported(thrift_stub: ThriftStub, connect: Connect) -> None:
    thrift_stub.serve(IDL)
    thrift_stub.expect("get_item").respond({"sku": "A-1", "colour": "blue"}).then_respond(inventory.OutOfStock(sku="A-1", available=0))
    client = connect()
    with pytest.raises(TApplicationException, match="does not fit the IDL") as first:
        client.get_item("A-1")
    assert first.value.type == TApplicationException.INTERNAL_ERROR
    with pytest.raises(TApplicationException, match="does not fit the IDL"):
        client.get_item("A-1")
    report = thrift_stub.problems_report() or ""
    assert "Item has no field(s) colour; its fields: sku, name, price, tags" in report
    assert "Inventory.get_item does not declare OutOfStock (its `throws`: ItemNotFound)" in report
    thrift_stub.reset()  # the report was the point


def test_unmatched_calls_and_unknown_methods_are_answered_and_listed(thrift_stub: ThriftStub, connect: Connect) -> None:
    thrift_stub.serve(IDL)
    thrift_stub.expect("get_item", request={"sku": "A-1"}).respond({"sku": "A-1", "name": "widget"})
    client = connect()
    with pytest.raises(TApplicationException) as unmatched:
        client.get_item("B-2")
    assert unmatched.value.type == TApplicationException.UNKNOWN_METHOD
    report = thrift_stub.problems_report() or ""
    assert "thrift_stub: 1 call(s) matched no route (answered UNIMPLEMENTED)" in report
    assert "closest: Inventory/get_item: request.sku: expected 'A-1', got 'B-2'" in report
    thrift_stub.allow_unmatched()


SERVED = "this stub serves binary protocol over buffered transport"


@pytest.mark.parametrize(
    ("client_wire", "message"),
    [
        (("compact", "buffered"), f"spoke compact protocol over buffered transport; {SERVED}"),
        (("binary", "framed"), f"spoke binary protocol over framed transport; {SERVED}"),
    ],
    ids=["wrong-protocol", "wrong-transport"],
)
def test_a_client_on_the_wrong_wire_fails_clearly(
    thrift_stub: ThriftStub, connect: Connect, client_wire: tuple[str, str], message: str
) -> None:
    thrift_stub.serve(IDL)
    thrift_stub.expect("ping").respond(True)
    with pytest.raises(TTransportException):
        connect(*client_wire).ping()
    report = thrift_stub.problems_report() or ""
    assert message in report
    assert "give the client proto_factory=TBinaryProtocolFactory(), trans_factory=TBufferedTransportFactory()" in report
    assert thrift_stub.calls() == []
    thrift_stub.reset()


def test_the_journal_counts_calls_in_flight(thrift_stub: ThriftStub, connect: Connect) -> None:
    from pytest_ipc import faults

    thrift_stub.serve(IDL)
    thrift_stub.expect("ping").respond(True).inject(faults.latency(0.3))  # long enough to overlap on a busy host
    clients = [connect() for _ in range(3)]
    threads = [threading.Thread(target=client.ping) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert thrift_stub.max_in_flight == 3
    assert all(call.duration is not None and call.duration >= 0.29 for call in thrift_stub.calls("ping"))


def test_bad_input_names_the_choices(thrift_stub: ThriftStub, tmp_path: Any) -> None:
    with pytest.raises(ThriftUsageError, match=r"serves no IDL yet: thrift_stub.serve\('inventory.thrift'\) first"):
        thrift_stub.expect("ping")
    thrift_stub.serve(IDL)
    with pytest.raises(RpcUsageError, match="Inventory has no method 'get_items'; its methods: get_item, reserve, list_items"):
        thrift_stub.expect("get_items")
    with pytest.raises(ThriftUsageError, match="this stub serves Inventory, not Orders"):
        thrift_stub.expect("Orders.get_item")
    with pytest.raises(ThriftUsageError, match="unknown Thrift protocol 'json'; choose one of: binary, compact"):
        thrift_stub.serve(protocol="json")
    with pytest.raises(ThriftUsageError, match="unknown Thrift transport 'http'; choose one of: buffered, framed"):
        thrift_stub.serve(transport="http")
    with pytest.raises(ThriftUsageError, match=r"expected a \.thrift file"):
        thrift_stub.serve(tmp_path / "missing.thrift")
    broken = tmp_path / "broken.thrift"
    broken.write_text("service Broken { void ping( }")
    with pytest.raises(ThriftUsageError, match=r"broken\.thrift is not valid Thrift IDL"):
        thrift_stub.serve(broken)


def test_each_test_gets_a_clean_stub_on_a_port_of_its_own(thrift_stub_server: ThriftStub) -> None:
    stub = thrift_stub_server  # two tests in a row, as the thrift_stub fixture runs them
    stub.begin_test("first")
    stub.serve(IDL).expect("ping").respond(True)
    first = stub.port
    client = make_client(inventory.Inventory, stub.host, first, timeout=2000)
    assert client.ping() is True
    stub.end_test()
    stub.begin_test("second")
    try:
        assert stub.service is None and stub.routes == [] and stub.calls() == [] and stub.port != first
        with pytest.raises((TTransportException, ConnectionResetError, BrokenPipeError)):
            client.ping()  # the first test's connection closed as it ended (EOF, or RST when the write came first)
        with pytest.raises(TTransportException):
            make_client(inventory.Inventory, stub.host, first, timeout=500)  # and its port no longer listens
    finally:
        client.close()
        stub.end_test()


USER_TESTS = """
import pytest
from thriftpy2.protocol import TCompactProtocolFactory
from thriftpy2.rpc import make_client
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TTransportException

IDL = {idl!r}

def client(stub, **factories):
    return make_client(stub.module.Inventory, stub.host, stub.port, timeout=2000, **factories)

def test_unmatched(thrift_stub):
    thrift_stub.serve(IDL).expect("get_item", request={{"sku": "A-1"}}).respond({{"sku": "A-1", "name": "widget"}})
    with pytest.raises(TApplicationException):
        client(thrift_stub).get_item("B-2")

def test_wrong_wire(thrift_stub):
    thrift_stub.serve(IDL).expect("ping").respond(True)
    with pytest.raises(TTransportException):
        client(thrift_stub, proto_factory=TCompactProtocolFactory()).ping()

@pytest.mark.thrift_stub_allow_unmatched
def test_allowed_by_marker(thrift_stub):
    thrift_stub.serve(IDL)
    with pytest.raises(TApplicationException):
        client(thrift_stub).ping()

def test_clean_after_the_others(thrift_stub, thrift_stub_server):
    assert thrift_stub is thrift_stub_server and thrift_stub.service is None and thrift_stub.calls() == []
"""
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")


def test_the_fixture_fails_a_test_at_teardown_and_leaves_no_thread(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS.format(idl=str(IDL)))
    before = set(threading.enumerate())  # this session's own stub runs too
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched*",
            "*thrift_stub: 1 call(s) matched no route (answered UNIMPLEMENTED):",
            "*/Inventory/get_item",
            "*closest: Inventory/get_item: request.sku: expected 'A-1', got 'B-2'",
            "*(allow them with thrift_stub.allow_unmatched() or @pytest.mark.thrift_stub_allow_unmatched)",
            "*ERROR at teardown of test_wrong_wire*",
            "*thrift_stub: a client (127.0.0.1:*) spoke compact protocol over buffered transport; this stub serves binary "
            "protocol over buffered transport: give the client proto_factory=TBinaryProtocolFactory(), "
            "trans_factory=TBufferedTransportFactory()*",
        ]
    )
    assert not [thread.name for thread in set(threading.enumerate()) - before if thread.name.startswith("pytest-ipc-thrift")]
    pytester.runpytest_inprocess(*QUIET, "--ipc-thrift-allow-unmatched", "-k", "test_unmatched").assert_outcomes(passed=1)


def test_two_idl_files_of_one_name_are_two_services(thrift_stub: ThriftStub, connect: Connect, tmp_path: Any) -> None:
    """thriftpy2 caches modules by name: a second inventory.thrift must not be served as the first."""
    other = tmp_path / "inventory.thrift"
    other.write_text("service Inventory { string version() }")
    thrift_stub.serve(other)
    assert thrift_stub.service is not None and thrift_stub.service.methods == ("version",)
    thrift_stub.serve(IDL)
    assert thrift_stub.module is inventory  # the IDL the test loaded itself: the same classes
