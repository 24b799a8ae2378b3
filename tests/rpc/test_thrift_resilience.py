"""The resilience assertions judge a real thriftpy2 client (`make_client` with a socket timeout)
against the Thrift stub, on binary+buffered and compact+framed: a correct client passes each, and a
client broken in one respect (no timeout, retries a declared non-retryable exception, no fallback,
no breaker) fails exactly that one, with a message naming the defect."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pytest_ipc import faults
from pytest_ipc.resilience import assert_breaker, assert_fallback, assert_retries, assert_timeout_honoured, exponential
from pytest_ipc.rpc.thrift import ThriftStub
from tests.rpc.thrift_clients import FALLBACK, IDL, NONE, InventoryClient, Policy, inventory

WIDGET = {"sku": "A-1", "name": "widget"}
DEFAULT = Policy()
ONE_ATTEMPT = Policy(attempts=1)
MakeClient = Callable[..., InventoryClient]


@pytest.fixture(params=[("binary", "buffered"), ("compact", "framed")], ids=["binary-buffered", "compact-framed"])
def make_client(request: pytest.FixtureRequest, thrift_stub: ThriftStub) -> Iterator[MakeClient]:
    """`make_client(policy)`: an inventory client speaking this test's wire, which the stub serves."""
    protocol, transport = request.param
    thrift_stub.serve(IDL, protocol=protocol, transport=transport)
    yield lambda policy=DEFAULT: InventoryClient(thrift_stub.host, thrift_stub.port, protocol, transport, policy)


@pytest.fixture(autouse=True)
def no_call_outlives_the_test() -> Iterator[None]:
    """Set up first, so torn down last: after the stub let go of its held calls, every client call the
    assertions started (also those they gave up on) must end."""
    yield
    deadline = time.monotonic() + 3.0
    while (left := [t for t in threading.enumerate() if t.name == "pytest-ipc-resilience-call"]) and time.monotonic() < deadline:
        left[0].join(0.05)
    assert not left, f"{len(left)} client call(s) still running after the test"


def test_timeout_is_honoured_while_the_stub_hangs(thrift_stub: ThriftStub, make_client: MakeClient) -> None:
    thrift_stub.expect("get_item").respond(WIDGET)
    with faults.inject(faults.hang(), into=thrift_stub):
        outcome = assert_timeout_honoured(lambda: make_client(ONE_ATTEMPT).item("A-1"), budget=0.3, stub=thrift_stub)
    assert outcome.value == FALLBACK


def test_a_client_without_timeout_is_caught(thrift_stub: ThriftStub, make_client: MakeClient) -> None:
    thrift_stub.expect("get_item").respond(WIDGET)
    caught = pytest.raises(
        AssertionError,
        match=r"(?s)expected the call to return or raise within 0\.20 s .*one request, held .* and still open while the client "
        r"waited: it sets no timeout",
    )
    with faults.inject(faults.hang(), into=thrift_stub), caught:
        assert_timeout_honoured(lambda: make_client(Policy(timeout=None, attempts=1)).item("A-1"), budget=0.2, slack=0.1, stub=thrift_stub)


def test_transient_failures_are_retried_with_backoff(thrift_stub: ThriftStub, make_client: MakeClient) -> None:
    route = thrift_stub.expect("get_item").fail_first(2).then_respond(WIDGET)
    assert make_client().item("A-1").name == "widget"
    assert_retries(thrift_stub.calls(route), retries=2, backoff=exponential(0.05, 2), tolerance=0.5)


def test_a_declared_exception_is_not_retried(thrift_stub: ThriftStub, make_client: MakeClient) -> None:
    route = thrift_stub.expect("get_item").respond(inventory.ItemNotFound(sku="A-1", reason="never stocked"))
    with pytest.raises(inventory.ItemNotFound):
        make_client().item("A-1")
    assert_retries(thrift_stub.calls(route), retries=0)

    with pytest.raises(inventory.ItemNotFound):
        make_client(Policy(retry_declared=True)).item("A-1")
    caught = r"(?s)expected 0 retries \(1 attempts\), the stub saw 3 attempt\(s\) of /Inventory/get_item \(2 retries\).*\(ItemNotFound"
    with pytest.raises(AssertionError, match=caught):
        assert_retries(thrift_stub.calls(route)[1:], retries=0)


def test_fallback_while_the_connection_is_reset(thrift_stub: ThriftStub, make_client: MakeClient) -> None:
    thrift_stub.expect("get_item").respond(WIDGET)
    with faults.inject(faults.reset(), into=thrift_stub):
        assert_fallback(lambda: make_client(Policy(backoff=0.01)).item("A-1"), FALLBACK, within=2.0)
        with pytest.raises(AssertionError, match=r"no fallback: expected Item\(sku='\?'.* during the outage; the call raised .*Unavail"):
            assert_fallback(lambda: make_client(Policy(backoff=0.01, fallback=NONE)).item("A-1"), FALLBACK, within=2.0)


@pytest.mark.parametrize("make_client", [("compact", "framed")], ids=["compact-framed"], indirect=True)  # one wire: a slow probe
@pytest.mark.parametrize("breaker", [True, False], ids=["breaker", "no-breaker"])
def test_breaker_opens_half_opens_and_closes(thrift_stub: ThriftStub, make_client: MakeClient, breaker: bool) -> None:
    thrift_stub.expect("get_item").respond(WIDGET)
    client = make_client(Policy(attempts=1, breaker=breaker))
    if breaker:
        transcript = assert_breaker(lambda: client.item("A-1"), thrift_stub, threshold=3, cool_down=0.2, fail_fast=0.1, concurrent=3)
        assert len(transcript) == 3 + 3 + 3 + 3 + 1 + 3
        return
    with pytest.raises(AssertionError, match=r"breaker did not open after 3 failing calls \(call 4\) \(phase 'open'\)"):
        assert_breaker(lambda: client.item("A-1"), thrift_stub, threshold=3, cool_down=0.2, fail_fast=0.1, concurrent=3)
