"""The stub served from an OpenAPI 3.0/3.1 document: one ordinary route per operation, answering from
the document and holding every request to it.

    api = http_stub.serve_openapi("petstore.yaml", seed=7)      # every operation, under its server's path
    api.route("getPet").respond_example("old-dog")              # one operation answers otherwise
    api.route("POST /pets").inject(faults.latency(0.2))         # faults and the journal as for any route

A request is checked against its operation: path, query, header and cookie parameters (the styles
`simple`, `label`, `matrix`, `form` exploded or not, `spaceDelimited`, `pipeDelimited`, `deepObject`),
and the request body by its content type (JSON, form-encoded, text). One that breaks the document is
answered 400 with a problem JSON (`application/problem+json`, as a strict provider would) and fails
the test at teardown, naming the operation, the rule (`#/paths/~1pets/post/requestBody/...`) and
what was sent; `api.assert_conforming()` fails at once, and a test whose point is such a request
takes them with `api.take_violations()`. A conforming request gets, unless the test
set replies of its own, the operation's first success response: its example (`example`, the first of
`examples`; one that breaks the schema is skipped), else a value generated from its schema (`pytest_ipc.specs.examples`, seeded: the n-th
answer of an operation is the same on every run). Operations match under the path of the document's
first server (`/v1`), or `prefix=`, so two versions are served side by side by one stub. Checking
and answering run Python per request: the embedded stub serves them; WireMock (the container and
external backends) refuses them with `WireMockUnsupported`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from pytest_ipc._http import Response
from pytest_ipc.specs.document import ApiDocument, SpecError, pointer_token
from pytest_ipc.specs.examples import ExampleGenerator
from pytest_ipc.specs.schema import SchemaValidator, text_value
from pytest_ipc.stub.matchers import PathTemplate, RequestMatcher
from pytest_ipc.stub.request import NOT_JSON, StubRequest
from pytest_ipc.stub.responses import JsonTransform, Reply
from pytest_ipc.stub.routes import Route

__all__ = ["OpenApiStub", "RequestViolation", "SpecRoute", "server_prefix"]

if TYPE_CHECKING:
    from pytest_ipc.stub.server import HttpStub

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_TYPE = "application/problem+json"
_SENT_SHOWN = 200
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class RequestViolation:
    """One way a request broke its operation: which operation, which rule, and what was sent."""

    operation: str  # operationId, or "METHOD /path"
    request: str  # "POST /v1/pets"
    where: str  # "body", "query parameter 'limit'"
    path: str  # in the value: "$", "$.name"
    schema_path: str  # in the document: "#/paths/~1pets/post/requestBody/content/application~1json/schema/required"
    message: str
    sent: str  # the value as sent (cut short)

    def describe(self) -> str:
        """Lines for a failure message."""
        head = f"{self.operation}: {self.request}: {self.where} {self.path}: {self.message}"
        return f"{head}\n    rule: {self.schema_path}\n    sent: {self.sent}"

    def as_json(self) -> dict[str, str]:
        """The violation as the problem JSON's `violations` list carries it."""
        return {"in": self.where, "path": self.path, "schemaPath": self.schema_path, "message": self.message}


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _SENT_SHOWN else f"{text[:_SENT_SHOWN]}..."


def _local(document: ApiDocument, pointer: str) -> tuple[Any, str]:
    """The node at `pointer` and the pointer of where it really is (behind a local `$ref`)."""
    node = document.at(pointer)
    raw = document.target(pointer)
    while isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str) and raw["$ref"].startswith("#/"):
        pointer = raw["$ref"]
        raw = document.target(pointer)
    return node, pointer


def _kind(document: ApiDocument, schema: Any) -> str:
    """The JSON type a parameter's text is read as ("integer", "array", ...), "string" when unsaid."""
    schema = document.resolve(schema) if isinstance(schema, Mapping) else schema
    if not isinstance(schema, Mapping):
        return "string"
    declared = schema.get("type")
    kinds = [declared] if isinstance(declared, str) else [kind for kind in declared or [] if kind != "null"]
    if kinds:
        return str(kinds[0])
    for keyword in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(keyword) or []:
            found = _kind(document, part)
            if found != "string":
                return found
    return "object" if "properties" in schema else "array" if "items" in schema else "string"


class Parameter:
    """One parameter of an operation, ready to read from a request and check."""

    def __init__(self, document: ApiDocument, pointer: str) -> None:
        node, pointer = _local(document, pointer)
        self.name: str = node["name"]
        self.location: str = node["in"]
        self.required = bool(node.get("required")) or self.location == "path"
        self.pointer = pointer
        default_style = {"query": "form", "cookie": "form"}.get(self.location, "simple")
        self.style: str = node.get("style", default_style)
        self.explode: bool = node.get("explode", self.style == "form")
        self.json_content = False
        if "schema" in node:
            self.schema_pointer = f"{pointer}/schema"
            schema = document.resolve(node["schema"])
        else:  # `content`: the value is a document of that media type (JSON here)
            media = next(iter(node.get("content") or {"application/json": {}}))
            self.schema_pointer = f"{pointer}/content/{pointer_token(media)}/schema"
            schema = {}
            self.json_content = True
        self.kind = _kind(document, schema)
        items = schema.get("items") if isinstance(schema, Mapping) else None
        self.item_kind = _kind(document, items) if items is not None else "string"
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        self.property_kinds = {name: _kind(document, sub) for name, sub in (properties or {}).items()}

    @property
    def where(self) -> str:
        """How a failure message names it: "query parameter 'limit'"."""
        return f"{self.location} parameter {self.name!r}"

    def read(self, request: StubRequest) -> tuple[bool, object]:
        """(present, value as its schema's type) from the request."""
        raw = self._raw(request)
        if raw is None:
            return False, None
        if self.json_content and not isinstance(raw, dict):
            text = raw if isinstance(raw, str) else raw[0]
            try:
                return True, json.loads(text)
            except ValueError:
                return True, text
        return True, self._typed(raw)

    def _raw(self, request: StubRequest) -> str | list[str] | dict[str, str] | None:
        if self.location == "path":
            return request.params.get(self.name) if _IDENTIFIER.fullmatch(self.name) else request.params.get(_group(self.name))
        if self.location == "header":
            return request.headers.get(self.name.lower())
        if self.location == "cookie":
            cookies = dict(part.strip().split("=", 1) for part in request.headers.get("cookie", "").split(";") if "=" in part)
            return cookies.get(self.name)
        query = request.query
        if self.style == "deepObject":
            prefix = f"{self.name}["
            found = {key[len(prefix) : -1]: values[0] for key, values in query.items() if key.startswith(prefix) and key.endswith("]")}
            return found or None
        if self.kind == "object" and self.explode and self.style == "form":
            found = {key: query[key][0] for key in self.property_kinds if key in query}
            return found or None
        return query.get(self.name)

    def _typed(self, raw: str | list[str] | dict[str, str]) -> object:
        if isinstance(raw, dict):
            return {key: text_value(value, self.property_kinds.get(key, "string")) for key, value in raw.items()}
        values: list[str] = raw if isinstance(raw, list) else [raw]
        text = values[0]
        if self.style == "label":
            text = text.removeprefix(".")
        elif self.style == "matrix":
            text = text.removeprefix(f";{self.name}=")
        if self.kind == "array":
            if self.location == "query" and self.explode and self.style == "form":
                parts = values
            else:
                separator = {"spaceDelimited": " ", "pipeDelimited": "|", "label": "." if self.explode else ","}.get(self.style, ",")
                parts = text.split(separator) if text else []
            return [text_value(part, self.item_kind) for part in parts]
        if self.kind == "object":
            pieces = text.split(",")
            if self.explode:
                pairs = [piece.split("=", 1) for piece in pieces if "=" in piece]
            else:
                pairs = [pieces[index : index + 2] for index in range(0, len(pieces) - 1, 2)]
            return {key: text_value(value, self.property_kinds.get(key, "string")) for key, value in pairs}
        return text_value(text, self.kind)


def _group(name: str) -> str:
    """The regex group of a path parameter whose name is not an identifier (`pet-id`)."""
    return "p_" + "".join(char if char.isalnum() else f"_{ord(char):x}_" for char in name)


class Operation:
    """One operation of the document: how to match it, check its requests and answer them."""

    def __init__(self, api: OpenApiStub, path: str, method: str) -> None:
        document = api.document
        self.api = api
        self.path = path
        self.method = method.upper()
        path_pointer = f"#/paths/{pointer_token(path)}"
        self.pointer = f"{path_pointer}/{method}"
        node = document.at(self.pointer)
        self.operation_id: str | None = node.get("operationId")
        self.label = self.operation_id or f"{self.method} {path}"
        parameters: dict[tuple[str, str], Parameter] = {}
        for base, listed in ((path_pointer, document.at(path_pointer).get("parameters")), (self.pointer, node.get("parameters"))):
            for index in range(len(listed or [])):
                parameter = Parameter(document, f"{base}/parameters/{index}")
                parameters[(parameter.location, parameter.name)] = parameter
        self.parameters = list(parameters.values())
        self.body: tuple[str, Mapping[str, Any]] | None = None
        if "requestBody" in node:
            body, body_pointer = _local(document, f"{self.pointer}/requestBody")
            self.body = (body_pointer, body)
        self.responses_pointer = f"{self.pointer}/responses"

    def matcher(self, prefix: str) -> RequestMatcher:
        """What requests this operation takes: its method and path, under `prefix` (a path written
        with a query, `/models?beta=true` as some documents tell operations apart, needs that query)."""
        path, _, query = self.path.partition("?")
        literal = {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}
        return RequestMatcher(self.method, self.template(prefix + path), query=literal or None)

    @staticmethod
    def template(full: str) -> PathTemplate:
        """The path to match: `{name}` placeholders, through named groups where a name is no identifier."""
        names = re.findall(r"\{([^{}]+)\}", full)
        if all(_IDENTIFIER.fullmatch(name) for name in names):
            return PathTemplate(full)
        pattern = "".join(
            f"(?P<{_group(part[1:-1])}>[^/]+)" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^{}]+\})", full)
        )
        template = PathTemplate(re.compile(pattern))
        template.text = full
        return template

    # -- checking a request ----------------------------------------------------------------------
    def violations(self, request: StubRequest) -> list[RequestViolation]:
        found: list[RequestViolation] = []

        def add(where: str, path: str, schema_path: str, message: str, sent: object) -> None:
            found.append(RequestViolation(self.label, request.describe(), where, path, schema_path, message, _shown(sent)))

        for parameter in self.parameters:
            present, value = parameter.read(request)
            if not present:
                if parameter.required:
                    add(parameter.where, "$", f"{parameter.pointer}/required", f"required {parameter.where} is missing", "(nothing)")
                continue
            for violation in self.api.validator(parameter.schema_pointer).violations(value):
                add(parameter.where, violation.path, violation.schema_path, violation.message, value)
        if self.body is not None:
            self._check_body(request, add)
        return found

    def _check_body(self, request: StubRequest, add: Callable[[str, str, str, str, object], None]) -> None:
        assert self.body is not None
        pointer, body = self.body
        if not request.body:
            if body.get("required"):
                add("body", "$", f"{pointer}/required", "the request body is required, none was sent", "(no body)")
            return
        content: Mapping[str, Any] = body.get("content") or {}
        sent_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        media = _media_for(sent_type, content)
        if media is None:
            listed = ", ".join(content) or "(none)"
            add("body", "$", f"{pointer}/content", f"content type {sent_type or '(none)'!r} is not one of: {listed}", request.body[:80])
            return
        if not isinstance(content[media], Mapping) or "schema" not in content[media]:
            return
        schema_pointer = f"{pointer}/content/{pointer_token(media)}/schema"
        if sent_type == "application/json" or sent_type.endswith("+json"):
            value = request.json_body
            if value is NOT_JSON:
                add("body", "$", schema_pointer, f"the body is not JSON ({sent_type})", request.text)
                return
        elif sent_type == "application/x-www-form-urlencoded":
            schema = self.api.document.resolve(content[media]["schema"])
            kinds = {name: _kind(self.api.document, sub) for name, sub in (schema.get("properties") or {}).items()}
            value = {key: text_value(values[0], kinds.get(key, "string")) for key, values in parse_qs(request.text).items()}
        elif sent_type.startswith("text/"):
            value = request.text
        else:
            return  # binary and multipart bodies: their presence and type are what is checked
        for violation in self.api.validator(schema_pointer).violations(value):
            add("body", violation.path, violation.schema_path, violation.message, value)

    # -- answering -------------------------------------------------------------------------------
    def statuses(self) -> list[str]:
        return [str(status) for status in self.api.document.at(self.responses_pointer)]

    def success(self) -> str:
        """The response a conforming request gets: the first 2xx, else `default`, else the first listed."""
        statuses = self.statuses()
        for status in sorted(statuses):
            if status.startswith("2"):
                return status
        return "default" if "default" in statuses else statuses[0]

    def reply(self, status: str | None = None, *, example: str | None = None, seed: int = 0) -> Reply:
        """The document's answer for `status` (default: `success()`), its named `example` or the first,
        else one generated with `seed`."""
        status = status or self.success()
        if status not in self.statuses():
            raise ValueError(f"{self.label}: no response {status!r} in the document; it has: {', '.join(self.statuses())}")
        node, pointer = _local(self.api.document, f"{self.responses_pointer}/{pointer_token(status)}")
        code = int(status) if status.isdigit() else int(status[0]) * 100 if status[0].isdigit() else 200  # "4XX", "default"
        headers = self._headers(node, pointer, seed)
        content: Mapping[str, Any] = node.get("content") or {}
        if not content:
            if example is not None:
                raise ValueError(f"{self.label}: response {status} has no content, so no example {example!r}")
            return Reply(code, headers=headers)
        media = _preferred(content)
        media_node = self.api.document.resolve(content[media])
        value = self._example(media_node, example, status)
        schema_pointer = f"{pointer}/content/{pointer_token(media)}/schema"
        if value is not _NONE and example is None and "schema" in media_node:  # an example that breaks its schema is not served
            value = value if self.api.generator.validator(schema_pointer, "response").is_valid(value) else _NONE
        if value is _NONE:
            if "schema" not in media_node:
                return Reply(code, headers=headers, content_type=media)
            value = self.api.generator.value(schema_pointer, seed=seed, direction="response")
        if media == "application/json" or media.endswith("+json"):
            return Reply(code, json=value, headers=headers, content_type=media)
        if isinstance(value, str):
            return Reply(code, text=value, headers=headers, content_type=media)
        return Reply(code, body=json.dumps(value).encode(), headers=headers, content_type=media)

    def _example(self, media: Mapping[str, Any], name: str | None, status: str) -> Any:
        examples = media.get("examples") or {}
        if name is not None:
            if name not in examples:
                known = ", ".join(examples) or "(none)"
                raise ValueError(f"{self.label}: response {status} has no example {name!r}; its examples: {known}")
            return self.api.document.resolve(examples[name]).get("value")
        if "example" in media:
            return media["example"]
        for found in examples.values():
            resolved = self.api.document.resolve(found)
            if "value" in resolved:
                return resolved["value"]
        return _NONE

    def _headers(self, node: Mapping[str, Any], pointer: str, seed: int) -> tuple[tuple[str, str], ...]:
        headers = []
        for name, header in (node.get("headers") or {}).items():
            header = self.api.document.resolve(header)
            if name.lower() == "content-type" or "schema" not in header:
                continue
            value = header.get("example", _NONE)
            if value is _NONE:
                header_pointer = _local(self.api.document, f"{pointer}/headers/{pointer_token(name)}")[1]
                value = self.api.generator.value(f"{header_pointer}/schema", seed=seed, direction="response")
            headers.append((name, value if isinstance(value, str) else json.dumps(value)))
        return tuple(headers)

    def example_statuses(self, name: str) -> list[str]:
        """The statuses whose content lists an example called `name`."""
        found = []
        for status in self.statuses():
            node = self.api.document.resolve(self.api.document.at(f"{self.responses_pointer}/{pointer_token(status)}"))
            for media in (node.get("content") or {}).values():
                if name in (self.api.document.resolve(media).get("examples") or {}):
                    found.append(status)
        return found


_NONE = object()


def _media_for(sent: str, content: Mapping[str, Any]) -> str | None:
    """The content entry a request's media type falls under: exact, `type/*`, or `*/*`."""
    lowered = {key.split(";", 1)[0].strip().lower(): key for key in content}
    for candidate in (sent, f"{sent.split('/', 1)[0]}/*", "*/*"):
        if candidate in lowered:
            return lowered[candidate]
    return None


def _preferred(content: Mapping[str, Any]) -> str:
    for media in content:
        if media == "application/json":
            return media
    for media in content:
        if media.endswith("+json"):
            return media
    return next(iter(content))


class SpecRoute(Route):
    """A route for one operation of an OpenAPI document: checks every request against it and answers
    from it unless the test gave replies of its own (`respond`, `respond_example`, `respond_status`)."""

    needs_python = "routes served from an OpenAPI document check and answer each request in Python; WireMock cannot"

    def __init__(self, api: OpenApiStub, operation: Operation, name: str, on_change: Callable[[], None]) -> None:
        super().__init__(operation.matcher(api.prefix), name, on_change)
        self.api = api
        self.operation = operation
        self.violations: list[RequestViolation] = []

    def respond_example(self, name: str, *, status: str | int | None = None) -> SpecRoute:
        """Answer with the response example called `name` (of `status`, else of the response that has it)."""
        statuses = [str(status)] if status is not None else self.operation.example_statuses(name) or [self.operation.success()]
        self.respond_sequence([self.operation.reply(statuses[0], example=name)])
        return self

    def respond_status(self, status: str | int, *, seed: int | None = None) -> SpecRoute:
        """Answer with the document's response for `status` ("404", 404 or "default"): its example, else generated."""
        self.respond_sequence([self.operation.reply(str(status), seed=self.api.seed if seed is None else seed)])
        return self

    def reply(self, request: StubRequest, json_transform: JsonTransform | None) -> Response:
        """400 with a problem JSON for a request that breaks the operation, else the test's replies or the document's."""
        if self.api.validate:
            found = self.operation.violations(request)
            if found:
                self.violations.extend(found)
                return self._problem(found)
        if self.replies:
            return super().reply(request, json_transform)
        served, self.served = self.served, self.served + 1
        return self.operation.reply(seed=self.api.seed * 1_000_003 + served).render(json_transform)

    def _problem(self, found: list[RequestViolation]) -> Response:
        problem = {
            "type": "about:blank",
            "title": "The request does not conform to the API description",
            "status": 400,
            "detail": f"{self.operation.label}: {found[0].where} {found[0].path}: {found[0].message}",
            "operation": self.operation.label,
            "violations": [violation.as_json() for violation in found],
        }
        return Reply(400, json=problem, content_type=PROBLEM_TYPE).render()

    def problems(self) -> list[str]:
        """The document's request violations, reported once for all its routes (by the first that saw one)."""
        found = self.api.violations
        if not found or next(route for route in self.api.routes.values() if route.violations) is not self:
            return []
        lines = [f"http_stub: {len(found)} request(s) broke {self.api.describe()} (answered 400):"]
        lines += [f"  {violation.describe()}" for violation in found]
        lines.append("(if breaking it was the test's point, check them with api.take_violations())")
        return lines


class OpenApiStub:
    """The operations of one OpenAPI document served by an `HttpStub` (from `HttpStub.serve_openapi`)."""

    def __init__(self, stub: HttpStub, document: ApiDocument, *, prefix: str | None, seed: int, validate: bool) -> None:
        if document.kind != "openapi":
            raise SpecError(f"{document.source}: serve_openapi needs an OpenAPI document, this is {document.dialect}")
        self.stub = stub
        self.document = document
        self.prefix = server_prefix(document) if prefix is None else prefix.rstrip("/")
        if self.prefix and not self.prefix.startswith("/"):
            raise ValueError(f"prefix must start with '/', got {prefix!r}")
        self.seed = seed
        self.validate = validate
        self.generator = ExampleGenerator(document, seed=seed)
        self._validators: dict[str, SchemaValidator] = {}
        operations = [
            Operation(self, path, method)
            for path, item in (document.raw.get("paths") or {}).items()
            for method in METHODS
            if isinstance(item, Mapping) and method in item
        ]
        # A literal segment beats a template (`/pets/mine` before `/pets/{id}`), as OpenAPI says, and a
        # path written with a query (`/models?beta=true`) beats the same path without one.
        operations.sort(key=_precedence)
        suffix = f" [{self.prefix}]" if self.prefix else ""
        self.routes = {operation.label: SpecRoute(self, operation, operation.label + suffix, stub.publish) for operation in operations}

    def describe(self) -> str:
        return f"{self.document.title} {self.document.raw.get('info', {}).get('version', '')}".strip() + (
            f" at {self.prefix}" if self.prefix else ""
        )

    def route(self, operation: str) -> SpecRoute:
        """The route of an operation, by operationId or "METHOD /path" (as the document writes the path)."""
        found = self.routes.get(operation)
        if found is None:
            by_path = {f"{route.operation.method} {route.operation.path}": route for route in self.routes.values()}
            found = by_path.get(operation)
        if found is None:
            known = ", ".join(sorted(self.routes))
            raise ValueError(f"{self.document.title}: no operation {operation!r}; operations: {known}")
        return found

    def validator(self, pointer: str) -> SchemaValidator:
        """The (cached) request validator of the schema at `pointer`."""
        if pointer not in self._validators:
            self._validators[pointer] = SchemaValidator(self.document, pointer, direction="request")
        return self._validators[pointer]

    @property
    def violations(self) -> list[RequestViolation]:
        """Every request violation seen so far, in order of operation."""
        return [violation for route in self.routes.values() for violation in route.violations]

    def take_violations(self) -> list[RequestViolation]:
        """The request violations so far, now the test's to check: they no longer fail it at teardown."""
        found = self.violations
        for route in self.routes.values():
            route.violations.clear()
        return found

    def assert_conforming(self) -> None:
        """Fail now if any request broke the document (the fixture also fails the test at teardown)."""
        found = self.violations
        if found:
            lines = "\n".join(f"  {violation.describe()}" for violation in found)
            raise AssertionError(f"{len(found)} request(s) did not conform to {self.describe()}:\n{lines}")


def _precedence(operation: Operation) -> tuple[list[bool], bool]:
    path, query_mark, _ = operation.path.partition("?")
    return [part.startswith("{") for part in path.split("/")], not query_mark


def server_prefix(document: ApiDocument) -> str:
    """The path of the document's first server URL (`https://api.example/v1` -> "/v1"), variables at their defaults."""
    servers = document.raw.get("servers") or []
    if not servers or not isinstance(servers[0], Mapping):
        return ""
    url = str(servers[0].get("url", ""))
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace(f"{{{name}}}", str(variable.get("default", "")))
    return urlparse(url).path.rstrip("/")
