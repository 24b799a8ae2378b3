"""The same stub definitions pass the same tests on the embedded stub and on WireMock in a container."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from pytest_ipc.network.wiremock import WireMockAdmin, WireMockContainerBackend
from pytest_ipc import faults
from pytest_ipc.stub import HttpStub

SLOW_S = 0.4


class ServedStub:
    """Definitions go on `stub`; `url` serves them (WireMock loads them first)."""

    def __init__(self, stub: HttpStub, wiremock_url: str | None = None) -> None:
        self.stub = stub
        self.wiremock_url = wiremock_url

    @property
    def url(self) -> str:
        if self.wiremock_url is None:
            return self.stub.url
        WireMockAdmin(self.wiremock_url).load(self.stub)
        return self.wiremock_url


@pytest.fixture(scope="module")
def wiremock_url() -> Iterator[str]:
    backend = WireMockContainerBackend()
    if (reason := backend.unavailable_reason()) is not None:
        pytest.skip(reason)
    yield backend.start()
    backend.stop()


@pytest.fixture(params=["embedded", pytest.param("wiremock", marks=pytest.mark.docker)])
def served(request: pytest.FixtureRequest) -> Iterator[ServedStub]:
    if request.param == "embedded":
        with HttpStub() as stub:
            yield ServedStub(stub)
    else:
        yield ServedStub(HttpStub(), request.getfixturevalue("wiremock_url"))


def test_routes_match_path_query_headers_and_json(served: ServedStub) -> None:
    served.stub.expect("GET", "/v1/orders/{order_id:int}", query={"expand": "lines"}, headers={"x-tenant": "acme"}).respond(
        json={"id": 7}
    )
    served.stub.expect("POST", "/v1/orders", json={"qty": 1}).respond(status=201, text="created")
    url = served.url

    with httpx.Client(base_url=url, timeout=5) as client:
        found = client.get("/v1/orders/7", params={"expand": "lines"}, headers={"x-tenant": "acme"})
        wrong_tenant = client.get("/v1/orders/7", params={"expand": "lines"}, headers={"x-tenant": "other"})
        not_a_number = client.get("/v1/orders/x", params={"expand": "lines"}, headers={"x-tenant": "acme"})
        created = client.post("/v1/orders", json={"qty": 1, "note": "extra keys are fine"})
        other_json = client.post("/v1/orders", json={"qty": 2})

    assert (found.status_code, found.json()) == (200, {"id": 7})
    assert found.headers["content-type"] == "application/json"
    assert [wrong_tenant.status_code, not_a_number.status_code, other_json.status_code] == [404, 404, 404]
    assert (created.status_code, created.text) == (201, "created")


def test_earlier_routes_win_and_regex_paths_match(served: ServedStub) -> None:
    served.stub.expect("GET", "/items/special").respond(text="special")
    served.stub.expect("GET", re.compile(r"/items/[a-z]+")).respond(text="any item")
    url = served.url

    assert httpx.get(f"{url}/items/special", timeout=5).text == "special"
    assert httpx.get(f"{url}/items/other", timeout=5).text == "any item"


def test_a_reply_sequence_repeats_its_last_reply(served: ServedStub) -> None:
    served.stub.expect("GET", "/flaky").fail_first(2, status=503, retry_after=1).then_respond(json={"ok": True})
    url = served.url

    replies = [httpx.get(f"{url}/flaky", timeout=5) for _ in range(4)]

    assert [reply.status_code for reply in replies] == [503, 503, 200, 200]
    assert replies[0].headers["retry-after"] == "1"
    assert replies[3].json() == {"ok": True}


def test_delays_and_status_faults(served: ServedStub) -> None:
    served.stub.expect("GET", "/slow").respond(text="late").inject(faults.latency(SLOW_S))
    served.stub.expect("GET", "/broken").respond(text="never seen").inject(faults.status(502))
    url = served.url

    started = time.monotonic()
    slow = httpx.get(f"{url}/slow", timeout=5)
    elapsed = time.monotonic() - started
    broken = httpx.get(f"{url}/broken", timeout=5)

    assert slow.text == "late" and elapsed >= SLOW_S
    assert broken.status_code == 502


def test_a_dribbled_body_arrives_whole_but_slowly(served: ServedStub) -> None:
    served.stub.expect("GET", "/dribble").respond(text="x" * 50).inject(faults.dribble(SLOW_S, pieces=5))
    url = served.url

    started = time.monotonic()
    reply = httpx.get(f"{url}/dribble", timeout=5)

    assert reply.text == "x" * 50
    assert time.monotonic() - started >= SLOW_S * 0.9  # the last piece lands at the duration


@pytest.mark.parametrize("fault", ["reset", "empty_response", "malformed_response", "random_bytes"])
def test_connection_faults_break_the_exchange(served: ServedStub, fault: str) -> None:
    served.stub.expect("GET", "/fault").respond(text="a healthy body").inject(fault)
    url = served.url

    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/fault", timeout=5)
