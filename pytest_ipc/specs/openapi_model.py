"""The operations of an OpenAPI document as the checks read them (the one owner of that reading).

An operation is found by method and path template (`/pets/{id}` and `/pets/{petId}` are one
path); its parameters merge the path item's and the operation's own, keyed by where they go and
their name (a path parameter by its place in the template, so renaming it changes nothing; a
header case-insensitively). Each part keeps the JSON pointer it sits at, so a validator can be
built for it. Security is the operation's own or the document's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pytest_ipc.specs.document import ApiDocument, SpecError
from pytest_ipc.specs.document import pointer_token as escape

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Header parameters OpenAPI says are ignored: they are described elsewhere (content, security).
IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_TEMPLATE_PART = re.compile(r"\{([^}/]+)\}")


def template_key(path: str) -> str:
    """The path with its parameter names blanked, so renamed path parameters still pair up."""
    return _TEMPLATE_PART.sub("{}", path)


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation, resolved, with the pointer it sits at."""

    location: str  # "query", "header", "path", "cookie"
    name: str
    pointer: str
    node: Mapping[str, Any]

    @property
    def required(self) -> bool:
        return self.location == "path" or self.node.get("required") is True

    @property
    def label(self) -> str:
        return f"{self.location} parameter {self.name}"


@dataclass(frozen=True)
class Operation:
    """One operation: method, path template as written, where it sits, and its parts."""

    document: ApiDocument
    method: str  # upper case
    path: str
    pointer: str
    node: Mapping[str, Any]
    path_item: Mapping[str, Any]

    @property
    def label(self) -> str:
        """`GET /pets/{id}`, how findings name the operation."""
        return f"{self.method} {self.path}"

    @cached_property
    def parameters(self) -> dict[tuple[str, str], Parameter]:
        """(where, key) -> parameter; the operation's own override the path item's."""
        names = _TEMPLATE_PART.findall(self.path)
        found: dict[tuple[str, str], Parameter] = {}
        item_pointer = self.pointer.rsplit("/", 1)[0]
        for owner, raw in ((item_pointer, self.path_item.get("parameters")), (self.pointer, self.node.get("parameters"))):
            for index, _ in enumerate(raw if isinstance(raw, list) else []):
                pointer, node = self.document.follow(f"{owner}/parameters/{index}")
                if not isinstance(node, Mapping) or "name" not in node or "in" not in node:
                    raise SpecError(f"{self.document.source}: {pointer} is not a parameter (it needs 'name' and 'in')")
                where, name = str(node["in"]), str(node["name"])
                if where == "header" and name.lower() in IGNORED_HEADERS:
                    continue
                key = name.lower() if where == "header" else name
                if where == "path":
                    key = f"#{names.index(name)}" if name in names else name
                found[(where, key)] = Parameter(where, name, pointer, node)
        return found

    @cached_property
    def request_body(self) -> tuple[str, Mapping[str, Any]] | None:
        """(pointer, node) of the request body, or None."""
        if "requestBody" not in self.node:
            return None
        pointer, node = self.document.follow(f"{self.pointer}/requestBody")
        return (pointer, node) if isinstance(node, Mapping) else None

    @cached_property
    def responses(self) -> dict[str, tuple[str, Mapping[str, Any]]]:
        """Status as written ("200", "4XX", "default") -> (pointer, node)."""
        found = {}
        for status in self.node.get("responses") or {}:
            pointer, node = self.document.follow(f"{self.pointer}/responses/{escape(str(status))}")
            if isinstance(node, Mapping):
                found[str(status)] = (pointer, node)
        return found

    @property
    def security(self) -> list[dict[str, frozenset[str]]]:
        """The alternatives a client may satisfy; `{}` among them means anonymous access is allowed."""
        raw = self.node["security"] if "security" in self.node else self.document.raw.get("security")
        alternatives = [
            {str(name): frozenset(map(str, scopes or ())) for name, scopes in requirement.items()}
            for requirement in raw or []
            if isinstance(requirement, Mapping)
        ]
        return alternatives or [{}]


def operations(document: ApiDocument) -> dict[tuple[str, str], Operation]:
    """(METHOD, template key) -> operation, for every operation of an OpenAPI document."""
    if document.kind != "openapi":
        raise SpecError(f"{document.source} is an {document.kind} document; an OpenAPI document is needed here")
    found: dict[tuple[str, str], Operation] = {}
    for path in document.raw.get("paths") or {}:
        item_pointer, item = document.follow(f"#/paths/{escape(str(path))}")
        if not isinstance(item, Mapping):
            continue
        for method in METHODS:
            if isinstance(item.get(method), Mapping):
                found[(method.upper(), template_key(str(path)))] = Operation(
                    document, method.upper(), str(path), f"{item_pointer}/{method}", item[method], item
                )
    return found


def status_for(responses: Mapping[str, Any], status: int | str) -> str | None:
    """The key of `responses` that declares `status`: itself, its range (`4XX`), else `default`."""
    code = str(status)
    for key in (code, f"{code[:1]}XX", f"{code[:1]}xx", "default"):
        if key in responses:
            return key
    return None


def media_types(node: Mapping[str, Any]) -> dict[str, str]:
    """`content` of a body or response: media type -> the same name escaped for a pointer."""
    content = node.get("content")
    return {str(media): escape(str(media)) for media in content} if isinstance(content, Mapping) else {}
