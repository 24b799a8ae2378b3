"""Breaking-change check of two OpenAPI versions: `python benchmarks/bench_api_diff.py [--operations 200] [--rounds 5]`.

Two generated versions of an API with N operations (each resource with a schema of its own: nested
objects, arrays, enums, bounds, a recursive reference, parameters, several statuses), the second with
a dozen breaking changes spread over it. Measured in the same run:

- baseline: what any comparison pays, parsing both documents from JSON and comparing them for equality;
- `openapi_changes` on the loaded documents;
- end to end from YAML files (what `python -m pytest_ipc openapi-diff OLD NEW` does after start-up),
  and how much of that is parsing the YAML.

Medians of the rounds. Target from the issue: the check of two 200-operation specs in at most 1 s,
judged for documents parsed from JSON and end to end from YAML (libyaml's parsing alone takes about
half of that on a busy machine).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pytest_ipc.specs import load_document, openapi_changes

TARGET = 1.0


def resource_schema(number: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "name", "state"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "maxLength": 80},
            "state": {"type": "string", "enum": ["new", "active", "retired"]},
            "price": {"type": "number", "nullable": True},
            "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "pattern": "^[a-z]+$"}},
            "address": {"$ref": "#/components/schemas/Address"},
            "details": {
                "type": "object",
                "properties": {"weight": {"type": "number"}, "colour": {"type": "string"}, f"extra{number}": {"type": "boolean"}},
            },
            "parent": {"$ref": f"#/components/schemas/Resource{number}"},
        },
    }


def spec(operations: int) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}},
        "Error": {"type": "object", "required": ["code"], "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}},
    }
    error = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for number in range(operations // 4):
        schemas[f"Resource{number}"] = resource_schema(number)
        one = {"$ref": f"#/components/schemas/Resource{number}"}
        ok = {"description": "ok", "content": {"application/json": {"schema": one}}}
        paths[f"/resources{number}"] = {
            "get": {
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100, "default": 20}},
                    {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["new", "active", "retired"]}},
                ],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array", "items": one}}}},
                    "400": error,
                },
            },
            "post": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": one}}},
                "responses": {"201": ok, "400": error},
            },
        }
        paths[f"/resources{number}/{{id}}"] = {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {"responses": {"200": ok, "404": error}},
            "put": {"requestBody": {"content": {"application/json": {"schema": one}}}, "responses": {"200": ok, "404": error}},
        }
    return {"openapi": "3.0.3", "info": {"title": "Resources", "version": "1"}, "paths": paths, "components": {"schemas": schemas}}


def breaking(old: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(old)
    count = len(new["components"]["schemas"]) - 2
    for number in range(0, count, max(1, count // 12)):
        schema = new["components"]["schemas"][f"Resource{number}"]
        schema["properties"]["name"]["maxLength"] = 40
        schema["required"].remove("state")
    del new["paths"][f"/resources{count - 1}/{{id}}"]["put"]
    new["components"]["schemas"]["Address"]["properties"]["city"]["type"] = "integer"
    return new


def median(function: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    old, new = spec(arguments.operations), None
    new = breaking(old)
    old_json, new_json = json.dumps(old), json.dumps(new)
    with tempfile.TemporaryDirectory(prefix="bench-api-diff-") as directory:
        old_file, new_file = Path(directory) / "old.yaml", Path(directory) / "new.yaml"
        old_file.write_text(yaml.safe_dump(old))
        new_file.write_text(yaml.safe_dump(new))
        findings = openapi_changes(old_file, new_file)
        errors = sum(finding.is_error for finding in findings)

        def loaded() -> object:
            return openapi_changes(load_document(old), load_document(new))

        baseline = median(lambda: json.loads(old_json) == json.loads(new_json), arguments.rounds)
        in_memory = median(loaded, arguments.rounds)
        from_json = median(lambda: openapi_changes(load_document(old_json), load_document(new_json)), arguments.rounds)
        from_yaml = median(lambda: openapi_changes(old_file, new_file), arguments.rounds)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        yaml_only = median(lambda: [yaml.load(path.read_text(), Loader=loader) for path in (old_file, new_file)], arguments.rounds)
    print(f"two specs of {arguments.operations} operations each; {len(findings)} findings ({errors} errors)")
    print(f"{'what':<44} {'median s':>9} {'vs baseline':>12}")
    for name, value in (
        ("baseline: parse both JSON texts, compare ==", baseline),
        ("openapi_changes, documents in memory", in_memory),
        ("openapi_changes from JSON text", from_json),
        ("openapi_changes from YAML files (the CLI)", from_yaml),
        ("  of which parsing the YAML (libyaml)", yaml_only),
    ):
        print(f"{name:<44} {value:>9.3f} {value / baseline:>11.1f}x")
    for what, value in (("the check, documents parsed from JSON", from_json), ("end to end from YAML files", from_yaml)):
        print(f"{'PASS' if value <= TARGET else 'FAIL'}: {value:.3f} s {what} (target <= {TARGET:.1f} s)")


if __name__ == "__main__":
    main()
