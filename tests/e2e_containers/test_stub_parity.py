"""One `HttpStub` API, two servers: the same tests pass on the embedded stub and on WireMock in a
container (routes published as mappings, the journal read back from WireMock's)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from pytest_ipc import faults
from pytest_ipc.backends.stub_container import WireMockContainerBackend
from pytest_ipc.faults import FaultNeverFired
from pytest_ipc.stub import HttpStub
from pytest_ipc.stub.wiremock import WireMockUnsupported
from tests import images

SLOW_S = 0.4


@pytest.fixture(scope="module")
def wiremock_stub() -> Iterator[HttpStub]:
    backend = WireMockContainerBackend(images.WIREMOCK)
    if (reason := backend.unavailable_reason()) is not None:
        pytest.skip(reason)
    yield backend.start()
    backend.stop()


@pytest.fixture(params=["embedded", pytest.param("wiremock", marks=pytest.mark.docker)])
def stub(request: pytest.FixtureRequest) -> Iterator[HttpStub]:
    """A clean stub for the test, served by either server."""
    if request.param == "embedded":
        with HttpStub() as embedded:
            embedded.begin_test(request.node.nodeid)
            yield embedded
        return
    served: HttpStub = request.getfixturevalue("wiremock_stub")
    served.begin_test(request.node.nodeid)
    yield served
    served.end_test()


@pytest.mark.slow
def test_routes_match_path_query_headers_and_json(stub: HttpStub) -> None:
    stub.expect("GET", "/v1/orders/{order_id:int}", query={"expand": "lines"}, headers={"x-tenant": "acme"}).respond(
        json={"id": 7}
    )
    stub.expect("POST", "/v1/orders", json={"qty": 1}).respond(status=201, text="created")
    stub.allow_unmatched()

    with httpx.Client(base_url=stub.url, timeout=5) as client:
        found = client.get("/v1/orders/7", params={"expand": "lines"}, headers={"x-tenant": "acme"})
        wrong_tenant = client.get("/v1/orders/7", params={"expand": "lines"}, headers={"x-tenant": "other"})
        not_a_number = client.get("/v1/orders/x", params={"expand": "lines"}, headers={"x-tenant": "acme"})
        created = client.post("/v1/orders", json={"qty": 1, "note": "extra keys are fine"})
        other_json = client.post("/v1/orders", json={"qty": 2})

    assert (found.status_code, found.json()) == (200, {"id": 7})
    assert found.headers["content-type"] == "application/json"
    assert [wrong_tenant.status_code, not_a_number.status_code, other_json.status_code] == [404, 404, 404]
    assert (created.status_code, created.text) == (201, "created")


def test_earlier_routes_win_and_regex_paths_match(stub: HttpStub) -> None:
    stub.expect("GET", "/items/special").respond(text="special")
    stub.expect("GET", re.compile(r"/items/[a-z]+")).respond(text="any item")

    assert httpx.get(f"{stub.url}/items/special", timeout=5).text == "special"
    assert httpx.get(f"{stub.url}/items/other", timeout=5).text == "any item"


def test_a_reply_sequence_repeats_its_last_reply(stub: HttpStub) -> None:
    stub.expect("GET", "/flaky").fail_first(2, status=503, retry_after=1).then_respond(json={"ok": True})

    replies = [httpx.get(f"{stub.url}/flaky", timeout=5) for _ in range(4)]

    assert [reply.status_code for reply in replies] == [503, 503, 200, 200]
    assert replies[0].headers["retry-after"] == "1"
    assert replies[3].json() == {"ok": True}


def test_delays_and_status_faults(stub: HttpStub) -> None:
    stub.expect("GET", "/slow").respond(text="late").inject(faults.latency(SLOW_S))
    stub.expect("GET", "/broken").respond(text="never seen").inject(faults.status(502))

    started = time.monotonic()
    slow = httpx.get(f"{stub.url}/slow", timeout=5)
    elapsed = time.monotonic() - started
    broken = httpx.get(f"{stub.url}/broken", timeout=5)

    assert slow.text == "late" and elapsed >= SLOW_S
    assert broken.status_code == 502


def test_a_dribbled_body_arrives_whole_but_slowly(stub: HttpStub) -> None:
    stub.expect("GET", "/dribble").respond(text="x" * 50).inject(faults.dribble(SLOW_S, pieces=5))

    started = time.monotonic()
    reply = httpx.get(f"{stub.url}/dribble", timeout=5)

    assert reply.text == "x" * 50
    assert time.monotonic() - started >= SLOW_S * 0.9  # the last piece lands at the duration


@pytest.mark.parametrize("fault", ["reset", "empty_response", "malformed_response", "random_bytes"])
def test_connection_faults_break_the_exchange(stub: HttpStub, fault: str) -> None:
    stub.expect("GET", "/fault").respond(text="a healthy body").inject(fault)

    with pytest.raises(httpx.TransportError):
        httpx.get(f"{stub.url}/fault", timeout=5)


def test_the_journal_records_routes_statuses_faults_and_timing(stub: HttpStub) -> None:
    orders = stub.expect("GET", "/orders/{order_id}").respond(json={"id": 1})
    slow = stub.expect("POST", "/slow").respond(status=202).inject(faults.latency(SLOW_S))

    with httpx.Client(base_url=stub.url, timeout=5) as client:
        client.get("/orders/1", headers={"x-trace": "a"})
        client.post("/slow", content=b"payload")
        client.get("/orders/2")

    stub.assert_called(orders, times=2)
    stub.assert_called_in_order([orders, slow, orders])
    first, second, _third = stub.calls()
    assert (first.route, first.status, first.path, first.headers["x-trace"]) == (orders, 200, "/orders/1", "a")
    assert (second.route, second.status, second.body, second.fault) == (slow, 202, b"payload", "latency")
    assert second.duration is not None and second.duration >= SLOW_S * 0.9
    assert stub.max_in_flight == 1


def test_unmatched_requests_are_reported_with_the_closest_routes(stub: HttpStub) -> None:
    stub.expect("GET", "/v1/orders/{order_id}").respond(json={"id": 1})

    assert httpx.get(f"{stub.url}/v1/ordrs/7", timeout=5).status_code == 404

    (unmatched,) = stub.unmatched()
    assert unmatched.closest_misses == ["GET /v1/orders/{order_id}: path '/v1/ordrs/7' does not match '/v1/orders/{order_id}'"]
    report = stub.problems_report()
    assert report is not None and "1 request(s) matched no route" in report
    stub.allow_unmatched()


def test_a_stub_wide_fault_is_counted_as_fired_or_not(stub: HttpStub) -> None:
    stub.expect("GET", "/x").respond(text="ok")

    with faults.inject(faults.status(503), into=stub) as active:
        assert httpx.get(f"{stub.url}/x", timeout=5).status_code == 503
    assert active.activations() == 1
    assert httpx.get(f"{stub.url}/x", timeout=5).status_code == 200  # removed after the block

    with pytest.raises(FaultNeverFired), faults.inject(faults.status(503), into=stub):
        pass


@pytest.mark.docker
def test_what_wiremock_cannot_express_is_refused_when_the_test_asks_for_it(wiremock_stub: HttpStub) -> None:
    wiremock_stub.begin_test("refusals")
    try:
        route = wiremock_stub.expect("GET", "/a").respond(text="fine")
        with pytest.raises(WireMockUnsupported, match="route 'GET /a': hang has no WireMock equivalent"):
            route.inject("hang")
        wiremock_stub.end_test()
        wiremock_stub.begin_test("refusals, stub-wide")
        with pytest.raises(WireMockUnsupported, match="stub-wide auth"):
            wiremock_stub.require_bearer("t0k3n")
        wiremock_stub.end_test()
        wiremock_stub.begin_test("refusals, fault layer")
        with pytest.raises(WireMockUnsupported, match=r"stub-wide fault status-503 \(probability=0.5\): WireMock faults always fire"):
            with faults.inject(faults.status(503, probability=0.5), into=wiremock_stub):
                pass
    finally:
        wiremock_stub.end_test()
