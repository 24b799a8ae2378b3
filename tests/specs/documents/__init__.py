"""API documents for the tests: petstore-shaped OpenAPI 3.0 and 3.1 documents written for this
repository, a generator of large ones, and the real public descriptions an installed package ships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PETSTORE_30 = HERE / "petstore-3.0.yaml"
PETSTORE_31 = HERE / "petstore-3.1.yaml"
OPERATIONS_PER_RESOURCE = 5


def generated_spec(operations: int = 200, *, version: str = "3.0.3") -> dict[str, Any]:
    """An OpenAPI document with (at least) `operations` operations: one resource per five (list with
    query parameters, create with a body, get, replace and delete by id), each with its own schema."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for index in range(-(-operations // OPERATIONS_PER_RESOURCE)):
        name = f"Resource{index}"
        ref = {"$ref": f"#/components/schemas/{name}"}
        schemas[name] = {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "integer", "minimum": 1, "readOnly": True},
                "name": {"type": "string", "minLength": 1, "maxLength": 30},
                "kind": {"type": "string", "enum": ["a", "b", "c"]},
                "created": {"type": "string", "format": "date-time"},
                "amount": {"type": "number", "minimum": 0, "maximum": 1000},
                "labels": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            },
        }
        by_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
        ok = {"description": "ok", "content": {"application/json": {"schema": ref}}}
        paths[f"/r{index}"] = {
            "get": {
                "operationId": f"list{name}",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "kind", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}}},
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array", "items": ref}}}}},
            },
            "post": {
                "operationId": f"create{name}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {"201": ok},
            },
        }
        paths[f"/r{index}/{{id}}"] = {
            "parameters": [by_id],
            "get": {"operationId": f"get{name}", "responses": {"200": ok, "404": {"description": "missing"}}},
            "put": {
                "operationId": f"replace{name}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {"200": ok},
            },
            "delete": {"operationId": f"delete{name}", "responses": {"204": {"description": "gone"}}},
        }
    return {
        "openapi": version,
        "info": {"title": f"Generated, {operations} operations", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
