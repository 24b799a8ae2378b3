"""Loading API documents and validating values against their schemas, in each dialect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_ipc.specs import SchemaValidator, SpecError, load_document

PETS_30 = """
openapi: 3.0.3
info: {title: Pets, version: "1"}
paths:
  /pets:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses: {"201": {description: created}}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        tag: {type: string, nullable: true}
        age: {type: integer, minimum: 0, exclusiveMinimum: true}
        born: {type: string, format: date}
"""
BODY = "#/paths/~1pets/post/requestBody/content/application~1json/schema"


def test_openapi_30_nullable_exclusive_minimum_and_formats() -> None:
    document = load_document(PETS_30)
    assert (document.dialect, document.title) == ("openapi-3.0", "Pets")
    validator = SchemaValidator(document, BODY)
    assert validator.violations({"name": "Rex", "tag": None, "age": 1, "born": "2020-02-29"}) == []
    found = {violation.path: violation for violation in validator.violations({"tag": 3, "age": 0, "born": "29/02/2020"})}
    assert set(found) == {"$", "$.tag", "$.age", "$.born"}
    assert "'name' is a required property" in found["$"].message
    assert found["$.tag"].schema_path.endswith("/properties/tag/type")
    assert not validator.is_valid({"name": 1})


def test_openapi_31_uses_json_schema_2020_12() -> None:
    document = load_document(
        {
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "components": {"schemas": {"Tag": {"type": ["string", "null"], "exclusiveMinimum": 3, "prefixItems": []}}},
        }
    )
    validator = SchemaValidator(document, "#/components/schemas/Tag")
    assert validator.is_valid(None) and validator.is_valid("a") and not validator.is_valid(5)


def test_references_into_files_beside_the_document(tmp_path: Path) -> None:
    (tmp_path / "common.json").write_text(json.dumps({"Error": {"type": "object", "required": ["code"]}}))
    (tmp_path / "api.yaml").write_text(
        "asyncapi: 2.6.0\ninfo: {title: Lights, version: '1'}\nchannels: {}\n"
        "components:\n  schemas:\n    Failure: {$ref: 'common.json#/Error'}\n"
    )
    document = load_document(tmp_path / "api.yaml")
    assert document.dialect == "asyncapi-2.6"
    assert document.at("#/components/schemas/Failure") == {"type": "object", "required": ["code"]}
    validator = SchemaValidator(document, "#/components/schemas/Failure")
    assert validator.is_valid({"code": 1}) and not validator.is_valid({})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"swagger": "2.0"}, "not an OpenAPI or AsyncAPI document"),
        ({"openapi": "2.9.0"}, "openapi 2.9.0 is not supported; supported: 3.0, 3.1"),
        ("openapi: [unclosed", "neither JSON nor valid YAML"),
        ("/nonexistent/api.yaml", "cannot read API document /nonexistent/api.yaml"),
    ],
)
def test_documents_that_cannot_be_used_say_why(source: object, expected: str) -> None:
    with pytest.raises(SpecError, match="^.*" + expected.replace("[", r"\[").replace(".", r"\.")):
        load_document(source)  # type: ignore[arg-type]


def test_a_pointer_or_reference_that_leads_nowhere_names_it() -> None:
    document = load_document({"openapi": "3.0.0", "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}}}})
    with pytest.raises(SpecError, match=r"\$ref '#/components/schemas/B' leads nowhere \('B' is missing\)"):
        SchemaValidator(document, "#/components/schemas/A")
