"""Replies, generated bodies, sequences, scenarios, versioning and required credentials."""

from __future__ import annotations

import httpx
import pytest
import requests

from pytest_ipc.stub import HttpStub, Reply, fake_json


def test_reply_kinds_set_body_and_content_type(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/json").respond(json={"a": [1, 2]}, headers={"x-request-id": "r1"})
    http_stub.expect("GET", "/text").respond(text="héllo", status=202)
    http_stub.expect("GET", "/bytes").respond(body=b"\x00\xff", content_type="image/png")
    got = httpx.get(http_stub.url_for("/json"))
    assert (got.json(), got.headers["content-type"], got.headers["x-request-id"]) == ({"a": [1, 2]}, "application/json", "r1")
    text = httpx.get(http_stub.url_for("/text"))
    assert (text.status_code, text.text, text.headers["content-type"]) == (202, "héllo", "text/plain; charset=utf-8")
    raw = httpx.get(http_stub.url_for("/bytes"))
    assert (raw.content, raw.headers["content-type"]) == (b"\x00\xff", "image/png")


def test_reply_refuses_two_bodies_bad_status_and_unserialisable_json() -> None:
    with pytest.raises(ValueError, match="one body; got json and text"):
        Reply(json={}, text="x")
    with pytest.raises(ValueError, match="200 to 599"):
        Reply(status=99)
    with pytest.raises(TypeError, match="not JSON serializable"):
        Reply(json={"when": object()})


def test_bad_sequences_are_refused(http_stub: HttpStub) -> None:
    route = http_stub.expect("GET", "/seq")
    with pytest.raises(ValueError, match="unknown reply argument\\(s\\) jsn; a reply takes: status, json, text, body"):
        route.respond_sequence([{"jsn": {}}])
    with pytest.raises(ValueError, match="at least one reply"):
        route.respond_sequence([])
    with pytest.raises(ValueError, match="times must be an int >= 1, got 0"):
        route.fail_first(0)
    with pytest.raises(ValueError, match="200 to 599"):
        route.fail_first(2, status=700)


def test_faker_bodies_are_reproducible_with_a_seed(http_stub: HttpStub) -> None:
    template = {"id": "uuid4", "name": "name", "age": ("pyint", {"min_value": 18, "max_value": 99}), "tags": ["word", "word"], "fixed": 1}
    http_stub.expect("GET", "/a").respond(json=fake_json(template, seed=42))
    http_stub.expect("GET", "/b").respond(json=fake_json(template, seed=42))
    http_stub.expect("GET", "/c").respond(json=fake_json(template, seed=43))
    first_a, second_a = (httpx.get(http_stub.url_for("/a")).json() for _ in range(2))
    first_b = httpx.get(http_stub.url_for("/b")).json()
    first_c = httpx.get(http_stub.url_for("/c")).json()
    assert first_a == first_b, "same seed, same first body"
    assert first_a != second_a, "the sequence moves on"
    assert first_a != first_c
    assert 18 <= first_a["age"] <= 99 and len(first_a["id"]) == 36 and first_a["fixed"] == 1


def test_faker_unknown_provider_names_suggestions() -> None:
    with pytest.raises(ValueError, match=r"'emial' is not a Faker provider; did you mean: .*email"):
        fake_json({"contact": "emial"})


def test_sequence_then_last_reply_repeats(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/seq").respond_sequence([{"json": {"n": 1}}, Reply(json={"n": 2}), {"status": 410}])
    assert [httpx.get(http_stub.url_for("/seq")).status_code for _ in range(5)] == [200, 200, 410, 410, 410]


def test_fail_first_then_respond_with_retry_after(http_stub: HttpStub) -> None:
    route = http_stub.expect("GET", "/flaky").fail_first(3, status=503, retry_after=1).then_respond(json={"ok": True})
    answers = [httpx.get(http_stub.url_for("/flaky")) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [503, 503, 503, 200]
    assert answers[0].headers["retry-after"] == "1"
    assert answers[3].json() == {"ok": True}
    http_stub.assert_called(route, times=4)


def test_scenario_states_drive_answers(http_stub: HttpStub) -> None:
    cart = http_stub.scenario("cart", initial="empty", states=["empty", "filled", "paid"])
    http_stub.expect("GET", "/cart").in_state(cart, "empty").respond(json={"items": 0})
    http_stub.expect("POST", "/cart/items").in_state(cart, "empty", then="filled").respond(status=201)
    http_stub.expect("GET", "/cart").in_state(cart, "filled").respond(json={"items": 1})
    http_stub.expect("POST", "/cart/pay").in_state(cart, "filled", then="paid").respond(status=204)
    with httpx.Client(base_url=http_stub.url) as client:
        assert client.get("/cart").json() == {"items": 0}
        assert client.post("/cart/items").status_code == 201
        assert client.get("/cart").json() == {"items": 1}
        assert client.post("/cart/pay").status_code == 204
        http_stub.allow_unmatched()
        refused = client.post("/cart/items")
    assert refused.status_code == 404
    assert "scenario 'cart' is in state 'paid', route needs 'empty'" in refused.text
    assert cart.history == ["empty", "filled", "paid"]
    with pytest.raises(ValueError, match="no state 'shipped'; its states are: empty, filled, paid"):
        http_stub.expect("GET", "/x").in_state(cart, "shipped")


def test_versioning_by_path_media_type_and_header(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/v1/users/{id}").respond(json={"name": "Ada Lovelace"})
    http_stub.expect("GET", "/v2/users/{id}").respond(json={"first": "Ada", "last": "Lovelace"})
    http_stub.expect("GET", "/users/1", accept="application/vnd.acme.v2+json").respond(json={"version": 2})
    http_stub.expect("GET", "/users/1", accept="application/vnd.acme.v1+json").respond(json={"version": 1})
    http_stub.expect("GET", "/accounts/1", headers={"api-version": "2024-01-01"}).respond(json={"version": "2024"})
    http_stub.expect("GET", "/accounts/1", headers={"api-version": "2023-01-01"}).respond(json={"version": "2023"})
    assert httpx.get(http_stub.url_for("/v1/users/1")).json() == {"name": "Ada Lovelace"}
    assert httpx.get(http_stub.url_for("/v2/users/1")).json() == {"first": "Ada", "last": "Lovelace"}
    v2 = httpx.get(http_stub.url_for("/users/1"), headers={"accept": "application/vnd.acme.v2+json; q=1, */*;q=0.1"})
    assert (v2.json(), v2.headers["content-type"]) == ({"version": 2}, "application/vnd.acme.v2+json")
    assert httpx.get(http_stub.url_for("/users/1"), headers={"accept": "application/vnd.acme.v1+json"}).json() == {"version": 1}
    assert httpx.get(http_stub.url_for("/accounts/1"), headers={"api-version": "2023-01-01"}).json() == {"version": "2023"}
    http_stub.allow_unmatched()
    assert httpx.get(http_stub.url_for("/users/1"), headers={"accept": "application/json"}).status_code == 404


def test_route_bearer_auth_401_without_and_403_with_a_wrong_token(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/secure").require_bearer("s3cret").respond(json={"ok": True})
    missing = httpx.get(http_stub.url_for("/secure"))
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, 'Bearer realm="pytest-ipc"')
    assert httpx.get(http_stub.url_for("/secure"), headers={"authorization": "Basic eDp5"}).status_code == 401
    assert httpx.get(http_stub.url_for("/secure"), headers={"authorization": "Bearer nope"}).status_code == 403
    assert httpx.get(http_stub.url_for("/secure"), headers={"authorization": "Bearer s3cret"}).json() == {"ok": True}
    assert [entry.status for entry in http_stub.calls("GET /secure")] == [401, 401, 403, 200]


def test_stub_wide_basic_auth(http_stub: HttpStub) -> None:
    http_stub.require_basic("svc-orders", "pw")
    http_stub.expect("GET", "/a").respond(text="in")
    assert requests.get(http_stub.url_for("/a")).status_code == 401
    assert requests.get(http_stub.url_for("/a"), headers={"authorization": "Basic !!!"}).status_code == 401
    assert requests.get(http_stub.url_for("/a"), auth=("svc-orders", "wrong")).status_code == 403
    assert requests.get(http_stub.url_for("/a"), auth=("svc-orders", "pw")).text == "in"


def test_json_transform_rewrites_every_json_body_until_reset(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/doc").respond(json={"id": 1})
    http_stub.expect("GET", "/plain").respond(text="untouched")
    http_stub.json_transform = lambda document: {**document, "unknown_field": "tolerate me"}  # type: ignore[dict-item]
    assert httpx.get(http_stub.url_for("/doc")).json() == {"id": 1, "unknown_field": "tolerate me"}
    assert httpx.get(http_stub.url_for("/plain")).text == "untouched"
    http_stub.reset()
    assert http_stub.json_transform is None


def test_callback_errors_answer_500_and_are_reported(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/boom").respond_with(lambda request: 1 / 0)  # type: ignore[arg-type,return-value]
    assert httpx.get(http_stub.url_for("/boom")).status_code == 500
    report = http_stub.problems_report()
    assert report is not None and "ZeroDivisionError" in report
    http_stub.reset()
