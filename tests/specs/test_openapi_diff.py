"""Breaking changes between OpenAPI versions: every rule on 3.0 and 3.1 petstores, compatible versions, the CLI."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc import IncompatibleApi, IpcAssertionError, IpcError, assert_openapi_compatible
from pytest_ipc.__main__ import main
from pytest_ipc.specs import SpecError, load_document, openapi_changes

DOCUMENTS = Path(__file__).parent / "documents"
V1_30, BREAKING_30, COMPATIBLE_30 = (DOCUMENTS / f"diff_petstore_30_{name}.yaml" for name in ("v1", "v2_breaking", "v2_compatible"))
V1_31, BREAKING_31, COMPATIBLE_31 = (DOCUMENTS / f"diff_petstore_31_{name}.yaml" for name in ("v1", "v2_breaking", "v2_compatible"))
BODY = "response 200 body (application/json)"

EXPECTED_30 = {
    ("/owners", "api-path-removed", "error"),
    ("DELETE /pets/{petId}", "api-operation-removed", "error"),
    ("GET /pets", "api-security-changed", "error"),
    ("GET /pets query parameter limit", "request-parameter-became-required", "error"),
    ("GET /pets query parameter limit", "request-parameter-default-changed", "error"),
    ("GET /pets query parameter limit", "request-parameter-max-decreased", "error"),
    ("GET /pets query parameter region", "new-required-request-parameter", "error"),
    ("GET /pets query parameter tag", "request-parameter-enum-value-removed", "error"),
    ("GET /pets response 200 body $[*].name", "response-property-removed", "error"),
    ("GET /pets response 200 body $[*].owner.name", "response-property-type-changed", "error"),
    ("GET /pets response 200 body $[*].status", "response-property-enum-value-added", "warning"),
    ("GET /pets response 200 body $[*].tag", "response-property-became-nullable", "error"),
    (f"GET /pets/{{id}} {BODY} $.name", "response-property-removed", "error"),
    (f"GET /pets/{{id}} {BODY} $.owner.name", "response-property-type-changed", "error"),
    (f"GET /pets/{{id}} {BODY} $.status", "response-property-enum-value-added", "warning"),
    (f"GET /pets/{{id}} {BODY} $.tag", "response-property-became-nullable", "error"),
    ("GET /pets/{id} response 200 body (application/xml)", "response-media-type-removed", "error"),
    ("GET /pets/{id} response 200 header X-Rate-Limit", "required-response-header-removed", "error"),
    ("POST /pets request body $.kind", "request-property-type-changed", "error"),
    ("POST /pets request body $.name", "request-property-max-length-decreased", "error"),
    ("POST /pets request body $.owner", "new-required-request-property", "error"),
    ("POST /pets response 201", "response-success-status-removed", "error"),
    ("POST /pets response 400", "response-non-success-status-removed", "warning"),
}
EXPECTED_31 = {
    ("POST /pets request body $.age", "request-property-min-increased", "error"),
    ("POST /pets request body $.nickname", "request-property-became-not-nullable", "error"),
    ("POST /pets request body $.species", "request-property-enum-value-removed", "error"),
    ("POST /pets request body $.weight", "request-property-type-changed", "error"),
    ("POST /pets response 201 body $.id", "response-property-type-changed", "error"),
    ("POST /pets response 201 body $.kind", "response-property-enum-value-added", "warning"),
    ("POST /pets response 201 body $.name", "response-property-became-nullable", "error"),
}


def found(old: Any, new: Any) -> set[tuple[str, str, str]]:
    return {(finding.location, finding.rule, finding.severity) for finding in openapi_changes(old, new)}


@pytest.mark.parametrize(
    ("old", "new", "expected"), [(V1_30, BREAKING_30, EXPECTED_30), (V1_31, BREAKING_31, EXPECTED_31)], ids=["3.0", "3.1"]
)
def test_every_rule_is_caught_with_its_location(old: Path, new: Path, expected: set[tuple[str, str, str]]) -> None:
    assert found(old, new) == expected


def test_the_failure_lists_errors_apart_from_warnings_one_a_line() -> None:
    with pytest.raises(IncompatibleApi) as caught:
        assert_openapi_compatible(V1_30, BREAKING_30)
    error = caught.value
    assert isinstance(error, IpcAssertionError) and isinstance(error, IpcError)
    assert len(error.errors) == 20 and len(error.warnings) == 3
    text = str(error)
    assert text.startswith(
        "diff_petstore_30_v2_breaking.yaml (version 2.0.0) breaks clients of diff_petstore_30_v1.yaml (version 1.0.0): "
        "20 error(s), 3 warning(s)"
    )
    errors, warnings = text.split("warnings (not failing):")
    assert (
        "  - POST /pets request body $.owner: new required field; old clients do not send it and are rejected "
        "[new-required-request-property]\n" in errors
    )
    assert (
        "  - GET /pets query parameter tag: enum no longer allows 'bird'; old clients that send it are rejected "
        "[request-parameter-enum-value-removed]" in errors
    )
    assert (
        "  - GET /pets: security requirement changed from api_key to oauth[pets:read]; old clients authenticating "
        "with api_key are refused [api-security-changed]" in errors
    )
    assert "  - POST /pets response 400: status 400 no longer declared" in warnings
    assert "[response-property-enum-value-added]" in warnings and "[response-property-enum-value-added]" not in errors
    assert warnings.rstrip().endswith("or publish the change as a new major version of the API.")


@pytest.mark.parametrize(("old", "new"), [(V1_30, COMPATIBLE_30), (V1_31, COMPATIBLE_31)], ids=["3.0", "3.1"])
def test_compatible_versions_pass_and_return_their_warnings(old: Path, new: Path) -> None:
    warnings = assert_openapi_compatible(old, new)
    assert all(finding.severity == "warning" for finding in warnings)
    assert {finding.rule for finding in warnings} <= {"response-property-enum-value-added"}
    assert assert_openapi_compatible(old, old) == []


def test_removing_a_deprecated_operation_only_warns() -> None:
    old = load_document(V1_30)
    raw = copy.deepcopy(dict(old.raw))
    raw["paths"]["/pets/{petId}"]["delete"]["deprecated"] = True
    new = copy.deepcopy(raw)
    del new["paths"]["/pets/{petId}"]["delete"]
    assert found(raw, new) == {("DELETE /pets/{petId}", "api-operation-removed-after-deprecation", "warning")}


def test_a_request_enum_added_and_a_response_field_made_optional() -> None:
    old = load_document(V1_30)
    new = copy.deepcopy(dict(old.raw))
    new["components"]["schemas"]["NewPet"]["properties"]["kind"]["enum"] = ["dog", "cat"]
    new["components"]["schemas"]["Error"]["required"] = []
    changes = {(finding.location, finding.rule): finding.message for finding in openapi_changes(old, new)}
    assert changes == {
        ("POST /pets request body $.kind", "request-property-enum-value-removed"): (
            "enum no longer allows anything but 'dog', 'cat' (no enum before); old clients that send it are rejected"
        ),
        ("GET /pets/{petId} response 404 body $.code", "response-property-became-optional"): (
            "no longer required; old clients that read it may not find it"
        ),
        ("POST /pets response 400 body $.code", "response-property-became-optional"): (
            "no longer required; old clients that read it may not find it"
        ),
    }


def generated(operations: int) -> dict[str, Any]:
    """A spec with `operations` operations over shared, recursive schemas."""
    paths: dict[str, Any] = {}
    for number in range(operations // 2):
        item = {"$ref": "#/components/schemas/Item"}
        paths[f"/things{number}/{{id}}"] = {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {
                "parameters": [{"name": "fields", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": item}}}},
            },
            "put": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": item}}},
                "responses": {"204": {"description": "stored"}},
            },
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Things", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string", "maxLength": 40},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                    },
                }
            }
        },
    }


def test_a_generated_spec_with_hundreds_of_operations() -> None:
    old = generated(300)
    new = copy.deepcopy(old)
    new["paths"]["/things100/{id}"]["get"]["parameters"][0]["schema"]["enum"] = ["a"]
    del new["paths"]["/things149/{id}"]["put"]
    start = time.perf_counter()
    changes = openapi_changes(old, new)
    elapsed = time.perf_counter() - start
    assert [(finding.location, finding.rule) for finding in changes] == [
        ("GET /things100/{id} query parameter fields", "request-parameter-enum-value-removed"),
        ("PUT /things149/{id}", "api-operation-removed"),
    ]
    assert elapsed < 5.0, f"300 operations took {elapsed:.2f} s"


def test_a_document_of_the_wrong_kind_is_a_usage_error() -> None:
    with pytest.raises(SpecError, match=r"diff_orders_26_v1.yaml is an asyncapi document; an OpenAPI document is needed here"):
        openapi_changes(DOCUMENTS / "diff_orders_26_v1.yaml", V1_30)


def run_cli(*arguments: str) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_ipc", *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def test_the_command_line_exit_codes_in_a_subprocess() -> None:
    """0 compatible, 1 breaking, 2 usage error: run side by side (each is a fresh interpreter)."""
    runs = {
        "compatible": run_cli("openapi-diff", str(V1_30), str(COMPATIBLE_30)),
        "breaking": run_cli("openapi-diff", str(V1_31), str(BREAKING_31)),
        "missing": run_cli("openapi-diff", str(V1_30), str(DOCUMENTS / "nope.yaml")),
    }
    try:
        results = {name: (*run.communicate(timeout=60), run.returncode) for name, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.communicate()
    out, _, code = results["compatible"]
    assert code == 0 and "0 error(s), 5 warning(s)" in out and "errors (breaking)" not in out
    out, _, code = results["breaking"]
    assert code == 1
    assert (
        "  - POST /pets request body $.weight: type changed from number to integer; old clients that send it are rejected "
        "[request-property-type-changed]" in out.splitlines()
    )
    out, err, code = results["missing"]
    assert (code, out) == (2, "") and f"openapi-diff: no such file: {DOCUMENTS / 'nope.yaml'}" in err


def test_the_command_line_json_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi-diff", "--format", "json", str(V1_31), str(BREAKING_31)]) == 1
    assert {
        "location": "POST /pets response 201 body $.name",
        "rule": "response-property-became-nullable",
        "severity": "error",
        "message": "null now allowed; old clients that read it may fail",
    } in json.loads(capsys.readouterr().out)
    assert main(["opneapi-diff", str(V1_30), str(V1_30)]) == 2
    assert "unknown command 'opneapi-diff'; commands:\n  openapi-diff " in capsys.readouterr().err
    assert main([]) == 2
    assert "usage: python -m pytest_ipc COMMAND [ARGS]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["openapi-diff", str(V1_30)])
    assert exited.value.code == 2
    assert "the following arguments are required: new" in capsys.readouterr().err


def test_one_line_json_text_longer_than_a_file_name_is_read_as_text() -> None:
    text = json.dumps(generated(40))
    assert len(text) > 4096 and "\n" not in text
    assert openapi_changes(text, text) == []


def test_a_required_field_no_longer_described_may_be_anything() -> None:
    old = load_document(V1_30)
    new = copy.deepcopy(dict(old.raw))
    del new["components"]["schemas"]["Error"]["properties"]["code"]  # still required, now of any type
    assert {(finding.location, finding.rule) for finding in openapi_changes(old, new)} == {
        ("GET /pets/{petId} response 404 body $.code", "response-property-type-changed"),
        ("POST /pets response 400 body $.code", "response-property-type-changed"),
    }


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def post(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"]["/pets"]["post"]
    return found


def unchanged(document: dict[str, Any]) -> None:
    """The document as diff_petstore_30_v1.yaml has it."""


Change = Callable[[dict[str, Any]], object]
# rule -> (how the old version differs from v1, how the new one does, where the finding is)
RULES: dict[str, tuple[Change, Change, set[str]]] = {
    "request-body-media-type-removed": (
        lambda d: post(d)["requestBody"]["content"].update({"text/plain": {"schema": {"type": "string"}}}),
        unchanged,
        {"POST /pets request body (text/plain)"},
    ),
    "request-body-became-required": (lambda d: post(d)["requestBody"].update(required=False), unchanged, {"POST /pets request body"}),
    "new-required-request-body": (lambda d: post(d).pop("requestBody"), unchanged, {"POST /pets request body"}),
    "request-property-removed": (unchanged, lambda d: schema(d, "NewPet")["properties"].pop("tag"), {"POST /pets request body $.tag"}),
    "request-property-pattern-changed": (
        unchanged,
        lambda d: schema(d, "NewPet")["properties"]["tag"].update(pattern="^[a-z]+$"),
        {"POST /pets request body $.tag"},
    ),
    "request-property-format-changed": (
        lambda d: schema(d, "NewPet")["properties"]["tag"].update(format="uuid"),
        lambda d: schema(d, "NewPet")["properties"]["tag"].update(format="email"),
        {"POST /pets request body $.tag"},
    ),
    "request-property-variant-removed": (
        lambda d: schema(d, "NewPet")["properties"].update(kind={"oneOf": [{"$ref": "#/components/schemas/Owner"}, {"type": "object"}]}),
        lambda d: schema(d, "NewPet")["properties"].update(kind={"oneOf": [{"$ref": "#/components/schemas/Owner"}]}),
        {"POST /pets request body $.kind"},
    ),
    "response-header-became-optional": (
        unchanged,
        lambda d: d["paths"]["/pets/{petId}"]["get"]["responses"]["200"]["headers"]["X-Rate-Limit"].pop("required"),
        {"GET /pets/{petId} response 200 header X-Rate-Limit"},
    ),
    "optional-response-property-removed": (
        unchanged,
        lambda d: schema(d, "Error")["properties"].pop("message"),
        {"GET /pets/{petId} response 404 body $.message", "POST /pets response 400 body $.message"},
    ),
    "request-parameter-removed": (unchanged, lambda d: d["paths"]["/pets"]["get"]["parameters"].pop(), {"GET /pets query parameter tag"}),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_more_rules_each_on_its_own(rule: str) -> None:
    change_old, change_new, locations = RULES[rule]
    old, new = copy.deepcopy(dict(load_document(V1_30).raw)), copy.deepcopy(dict(load_document(V1_30).raw))
    change_old(old)
    change_new(new)
    assert {(finding.location, finding.rule) for finding in openapi_changes(old, new)} == {(location, rule) for location in locations}


def test_a_31_reference_made_nullable_through_any_of() -> None:
    old = copy.deepcopy(dict(load_document(V1_31).raw))
    new = copy.deepcopy(old)
    pet = new["paths"]["/pets"]["post"]["responses"]["201"]["content"]["application/json"]
    pet["schema"] = {"anyOf": [{"$ref": "#/components/schemas/Pet"}, {"type": "null"}]}
    new["components"]["schemas"]["Pet"]["properties"]["name"] = {"type": "integer"}
    assert {(finding.location, finding.rule) for finding in openapi_changes(old, new)} == {
        ("POST /pets response 201 body $", "response-property-became-nullable"),
        ("POST /pets response 201 body $.name", "response-property-type-changed"),
        ("POST /pets response 201 body $.children[*].name", "response-property-type-changed"),
    }
