"""What the WireMock translation produces, and what it refuses (no engine needed)."""

from __future__ import annotations

import pytest

from pytest_ipc import faults
from pytest_ipc.faults import Latency
from pytest_ipc.stub import HttpStub
from pytest_ipc.stub.wiremock import WireMockUnsupported, wiremock_mappings


def test_a_route_becomes_a_prioritised_mapping_with_a_java_regex() -> None:
    stub = HttpStub()
    stub.expect("GET", "/v1/orders/{order_id:int}").respond(json={"id": 1}).inject(Latency.uniform(0.1, 0.2))
    stub.expect("*", "/health").respond(text="ok")

    first, second = wiremock_mappings(stub)

    assert first["priority"] == 1 and second["priority"] == 2
    assert first["request"] == {"method": "GET", "urlPathPattern": "/v1/orders/([0-9]+)"}
    assert first["response"]["delayDistribution"] == {"type": "uniform", "lower": 100, "upper": 200}
    assert second["request"]["method"] == "ANY"


def test_fixed_delays_add_up_and_connection_faults_end_the_response() -> None:
    stub = HttpStub()
    stub.inject(faults.latency(0.1))
    stub.expect("GET", "/a").respond(text="body").inject(faults.latency(0.2), "reset", faults.latency(5))

    (mapping,) = wiremock_mappings(stub)

    assert mapping["response"] == {"status": 200, "fault": "CONNECTION_RESET_BY_PEER", "fixedDelayMilliseconds": 300}


def test_a_reply_sequence_steps_a_scenario_of_its_own() -> None:
    stub = HttpStub()
    stub.expect("GET", "/flaky").fail_first(1).then_respond(text="ok")

    first, last = wiremock_mappings(stub)

    assert (first["requiredScenarioState"], first["newScenarioState"]) == ("Started", "reply 2")
    assert last["requiredScenarioState"] == "reply 2" and "newScenarioState" not in last
    assert first["scenarioName"] == last["scenarioName"]


@pytest.mark.parametrize(
    ("define", "problem"),
    [
        (lambda stub: stub.expect("GET", "/a").inject("hang"), "route 'GET /a': hang has no WireMock equivalent"),
        (lambda stub: stub.expect("GET", "/a").inject("close_before_headers"), "close_before_headers has no WireMock"),
        (lambda stub: stub.expect("GET", "/a").inject(faults.latency(1, probability=0.5)), "probability=0.5"),
        (lambda stub: stub.expect("GET", "/a").inject(Latency.lognormal(0.1, 0.5, maximum=1)), "capped"),
        (lambda stub: stub.expect("GET", "/a").respond_with(lambda request: {}), "respond_with callbacks"),
        (lambda stub: stub.expect("GET", "/a", headers={"x": str.isdigit}), "header 'x': a predicate"),
        (lambda stub: stub.expect("GET", "/a").require_bearer("t"), "auth"),
        (lambda stub: stub.require_basic("u", "p"), "stub-wide auth"),
        (lambda stub: stub.inject(faults.latency(1, times=2)), "stub-wide fault latency"),
    ],
    ids=["hang", "close-before-headers", "probability", "capped-lognormal", "callback", "predicate", "auth", "stub-auth", "stub-times"],
)
def test_what_wiremock_cannot_express_is_refused_by_name(define: object, problem: str) -> None:
    stub = HttpStub()
    define(stub)  # type: ignore[operator]

    with pytest.raises(WireMockUnsupported, match=problem):
        wiremock_mappings(stub)
