"""Breaking changes between two versions of a contract (two pact files), by rules users know.

Interactions are paired by description. Breaking: a removed interaction, a changed method, path or
status, a response (or message) field removed, a request field added (old clients do not send it),
and a field whose JSON type changed. Added response fields and dropped request fields are fine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.errors import ContractError

JsonShape = dict[str, str]


def breaking_changes(old_pact: str | Path, new_pact: str | Path) -> list[str]:
    """Every breaking change from `old_pact` to `new_pact`, sorted, one readable line each."""
    old = {item["description"]: item for item in pactfile.interactions_of(pactfile.load_pact(Path(old_pact)))}
    new = {item["description"]: item for item in pactfile.interactions_of(pactfile.load_pact(Path(new_pact)))}
    changes: list[str] = []
    for description, before in old.items():
        if description not in new:
            changes.append(f"{description!r}: interaction removed")
            continue
        changes += [f"{description!r}: {change}" for change in _interaction_changes(before, new[description])]
    return sorted(changes)


def assert_pacts_compatible(old_pact: str | Path, new_pact: str | Path) -> None:
    """Fail with every breaking change listed if `new_pact` breaks what `old_pact` promised."""
    changes = breaking_changes(old_pact, new_pact)
    if changes:
        raise ContractError(
            f"{Path(new_pact).name} breaks {Path(old_pact).name}: {len(changes)} breaking change(s):", changes, changes
        )


def _interaction_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    kind_before, kind_after = pactfile.interaction_kind(before), pactfile.interaction_kind(after)
    if kind_before != kind_after:
        return [f"kind changed from {kind_before} to {kind_after}"]
    if kind_before in pactfile.MESSAGE_KINDS:
        return _body_changes(_example(before, "contents"), _example(after, "contents"), "message")
    changes: list[str] = []
    request_before, request_after = before.get("request", {}), after.get("request", {})
    for part in ("method", "path"):
        if request_before.get(part) != request_after.get(part):
            changes.append(f"request {part} changed from {request_before.get(part)} to {request_after.get(part)}")
    status_before, status_after = before.get("response", {}).get("status"), after.get("response", {}).get("status")
    if status_before != status_after:
        changes.append(f"response status changed from {status_before} to {status_after}")
    changes += _request_changes(_example(request_before, "body"), _example(request_after, "body"))
    changes += _body_changes(
        _example(before.get("response", {}), "body"), _example(after.get("response", {}), "body"), "response"
    )
    return changes


def _example(part: dict[str, Any], key: str) -> object:
    return pactfile.content_of(part.get(key))


def _request_changes(before: object, after: object) -> list[str]:
    shape_before, shape_after = shape_of(before), shape_of(after)
    changes = [
        f"new required request field {path} ({kind})"
        for path, kind in shape_after.items()
        if path not in shape_before and _parent(path) in shape_before
    ]
    return changes + _type_changes(shape_before, shape_after, "request")


def _body_changes(before: object, after: object, where: str) -> list[str]:
    shape_before, shape_after = shape_of(before), shape_of(after)
    removed = [
        f"{where} field {path} removed"
        for path in shape_before
        if path not in shape_after and _parent(path) in shape_after
    ]
    return removed + _type_changes(shape_before, shape_after, where)


def _type_changes(before: JsonShape, after: JsonShape, where: str) -> list[str]:
    return [
        f"{where} field {path} changed type from {before[path]} to {after[path]}"
        for path in before
        if path in after and before[path] != after[path] and "null" not in (before[path], after[path])
    ]


def _parent(path: str) -> str:
    """`$.a.b` → `$.a`, `$.items[*].id` → `$.items[*]`: a removed object is reported once, not per field."""
    return path.rsplit(".", 1)[0]


def shape_of(value: object, path: str = "$") -> JsonShape:
    """JSON path → JSON type name, for every node (array items merged under `[*]`)."""
    shape: JsonShape = {path: _type_name(value)}
    if isinstance(value, dict):
        for key, item in value.items():
            shape.update(shape_of(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for item in value:
            shape.update(shape_of(item, f"{path}[*]"))
    return shape


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
