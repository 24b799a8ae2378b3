"""Routes match on method, path templates, query, headers, Accept and (partial) JSON bodies."""

from __future__ import annotations

import re

import httpx
import pytest
import requests

from pytest_ipc.stub import HttpStub


def test_path_template_captures_parameters_for_callbacks(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/v1/orders/{order_id}/lines/{line:int}").respond_with(
        lambda request: {"json": {"order": request.params["order_id"], "line": int(request.params["line"])}}
    )
    assert httpx.get(http_stub.url_for("/v1/orders/A-7/lines/3")).json() == {"order": "A-7", "line": 3}
    http_stub.allow_unmatched()
    assert httpx.get(http_stub.url_for("/v1/orders/A-7/lines/three")).status_code == 404
    assert httpx.get(http_stub.url_for("/v1/orders/A/7/lines/3")).status_code == 404


def test_path_converter_takes_the_rest_and_regex_paths_work(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/files/{rest:path}").respond_with(lambda request: {"text": request.params["rest"]})
    http_stub.expect("GET", re.compile(r"/items/[0-9]{3}")).respond(text="three digits")
    assert httpx.get(http_stub.url_for("/files/a/b/c.txt")).text == "a/b/c.txt"
    assert httpx.get(http_stub.url_for("/items/123")).text == "three digits"


def test_method_must_match_and_star_takes_any(http_stub: HttpStub) -> None:
    http_stub.expect("DELETE", "/thing").respond(status=204)
    http_stub.expect("*", "/anything").respond(text="any")
    assert requests.delete(http_stub.url_for("/thing")).status_code == 204
    assert requests.patch(http_stub.url_for("/anything")).text == "any"
    http_stub.allow_unmatched()
    assert requests.get(http_stub.url_for("/thing")).status_code == 404


def test_head_requests_get_the_head_only(http_stub: HttpStub) -> None:
    http_stub.expect("*", "/doc").respond(json={"a": 1})
    with httpx.Client() as client:
        head = client.head(http_stub.url_for("/doc"))
        assert (head.status_code, head.headers["content-length"], head.content) == (200, "7", b"")
        assert client.get(http_stub.url_for("/doc")).json() == {"a": 1}, "the connection is still in step"


def test_query_matching_exact_regex_and_repeated_values(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/search", query={"q": "shoes", "page": re.compile(r"\d+"), "tag": ["a", "b"]}).respond(text="hit")
    params = [("q", "shoes"), ("page", "2"), ("tag", "a"), ("tag", "b"), ("extra", "x")]
    assert httpx.get(http_stub.url_for("/search"), params=params).text == "hit"
    http_stub.allow_unmatched()
    missed = httpx.get(http_stub.url_for("/search"), params={"q": "shoes", "page": "two", "tag": "a"})
    assert missed.status_code == 404
    assert "query 'page'" in missed.text


def test_header_matching_is_case_insensitive_on_names(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/h", headers={"X-Tenant": "acme", "x-trace": lambda value: value.startswith("t-")}).respond(text="ok")
    assert httpx.get(http_stub.url_for("/h"), headers={"x-tenant": "acme", "X-Trace": "t-1"}).text == "ok"
    http_stub.allow_unmatched()
    missed = httpx.get(http_stub.url_for("/h"), headers={"x-tenant": "other", "X-Trace": "t-1"})
    assert missed.status_code == 404
    assert "header 'x-tenant': expected 'acme', got 'other'" in missed.text


def test_json_body_matches_partially(http_stub: HttpStub) -> None:
    http_stub.expect("POST", "/orders", json={"customer": {"id": 7}, "lines": [{"sku": "A"}]}).respond(status=201, json={"ok": True})
    payload = {"customer": {"id": 7, "name": "Ada"}, "lines": [{"sku": "A", "qty": 2}], "note": "x"}
    created = httpx.post(http_stub.url_for("/orders"), json=payload)
    assert created.status_code == 201
    assert created.json() == {"ok": True}
    http_stub.allow_unmatched()
    wrong = httpx.post(http_stub.url_for("/orders"), json={"customer": {"id": 8}, "lines": [{"sku": "A"}]})
    assert wrong.status_code == 404
    assert "$.customer.id: expected 7, got 8" in wrong.text
    assert "not JSON" in httpx.post(http_stub.url_for("/orders"), content=b"{nope").text
    assert "expected True" in _json_miss(http_stub, {"flag": True}, {"flag": 1})


def _json_miss(stub: HttpStub, expected: object, sent: object) -> str:
    stub.expect("POST", "/strict", json=expected).respond()
    return httpx.post(stub.url_for("/strict"), json=sent).text


def test_exact_body_matching(http_stub: HttpStub) -> None:
    http_stub.expect("PUT", "/raw", body=b"\x00\x01payload").respond(text="same")
    assert httpx.put(http_stub.url_for("/raw"), content=b"\x00\x01payload").text == "same"


def test_first_added_route_wins(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/x", headers={"x-v": "2"}).respond(text="specific")
    http_stub.expect("GET", "/x").respond(text="general")
    assert httpx.get(http_stub.url_for("/x"), headers={"x-v": "2"}).text == "specific"
    assert httpx.get(http_stub.url_for("/x")).text == "general"


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "orders", "must start with '/'"),
        ("GET", "/orders/{id:uuid}", "unknown converter 'uuid'; choose one of: int, path, str"),
        ("GET", "/orders/{id}/{id}", "appears twice"),
        ("GET", "/orders/{id", "stray brace"),
        ("GE T", "/orders", "bad HTTP method"),
    ],
)
def test_bad_route_definitions_are_refused(http_stub: HttpStub, method: str, path: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        http_stub.expect(method, path)
