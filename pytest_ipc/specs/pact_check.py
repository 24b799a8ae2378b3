"""Bi-directional contracts: a consumer's pact checked against the provider's API document, no provider run.

Each HTTP interaction must name a declared operation (path template and method, under any server's
base path), send what the request schema accepts (body, query, headers), and expect a declared
status with a body the response schema makes *possible*. Possible, not valid: a pact body lists the
fields the consumer reads, so fields the schema requires may be missing from it; a field the
schema does not declare may not (the consumer would rely on something the provider never
promised); and a value under a Pact type matcher (`like`, `integer`, `regex`...) stands for any
value of its type, so only its type must fit. Message interactions (V3 `messages`, V4
`Asynchronous/Messages`, and the request of `Synchronous/Messages`) are checked the same way against
an AsyncAPI document (read by `pytest_ipc.specs.asyncapi`): the channel named in the metadata
(`CHANNEL_KEYS`, by id or concrete address, or through `channel_of`) exists, the provider sends there
(receives, for a synchronous request; the wrong direction only warns), the content type is the
message's, and the contents (base64 when binary) are possible under one of its messages, read as
the message says (`pytest_ipc.specs.payloads`: JSON, XML, text, Avro, Protobuf). The one owner of
these checks; `python -m pytest_ipc pact-check` prints their findings.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.errors import NotAPact
from pytest_ipc.specs.asyncapi import ChannelSpec, MessageSpec, Role, asyncapi_channels
from pytest_ipc.specs.document import ApiDocument, Source, SpecError, load_document
from pytest_ipc.specs.findings import ApiFinding, document_label, raise_on_errors
from pytest_ipc.specs.openapi_model import Operation, Parameter, media_types, operations, status_for
from pytest_ipc.specs.payloads import PayloadChecker
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation, text_value

if TYPE_CHECKING:
    from pytest_ipc.protobuf import ProtoSchema

PactSource = str | os.PathLike[str] | Mapping[str, Any]
ADVICE = (
    "Change the consumer's expectations to what the provider's document declares, or have the provider "
    "declare (and implement) what the consumer needs, then publish both again."
)
MESSAGE_KINDS = {"Asynchronous/Messages", "Synchronous/Messages"}
# Pact matchers that stand for "any value of this kind", not the example's own value.
RELAXING_MATCHERS = {
    "type",
    "integer",
    "decimal",
    "number",
    "regex",
    "date",
    "time",
    "timestamp",
    "datetime",
    "boolean",
    "include",
    "contentType",
    "semver",
    "notEmpty",
    "values",
    "eachKey",
    "eachValue",
    "arrayContains",
    "min",
    "max",
}
CHANNEL_KEYS = ("channel", "topic", "routing_key", "routingKey", "routing-key", "destination", "queue", "subject", "address")
"""Metadata keys a message pact uses to name where the message goes, in the order they are looked at."""
ChannelOf = Callable[[Mapping[str, Any]], str | None]
"""Names the channel of a message interaction whose metadata uses other keys."""
# Keys whose value maps names to schemas (or other objects): a name there is not a keyword.
_NAME_MAPS = {
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependentSchemas",
    "schemas",
    "paths",
    "responses",
    "content",
    "headers",
    "securitySchemes",
    "parameters",
    "requestBodies",
    "links",
    "callbacks",
    "variables",
    "encoding",
    "components",
    "channels",
    "messages",
    "operations",
    "servers",
    "messageTraits",
    "operationTraits",
    "correlationIds",
    "replies",
    "bindings",
}
_DATA = {"example", "examples", "default", "const", "enum"}
_VALUE_KEYWORDS = frozenset(
    {
        "enum",
        "const",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "multipleOf",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "required",
    }
)
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]|\['([^']*)'\]")


@dataclass(frozen=True)
class MessageOptions:
    """How to read message interactions: where their channel is, and the Protobuf schema of payloads
    whose `.proto` is not in the document (`proto_types` names the message type per declared message)."""

    channel_of: ChannelOf | None = None
    proto: ProtoSchema | None = None
    proto_types: Mapping[str, str] | None = None


def pact_mismatches(pact: PactSource, spec: Source, messages: MessageOptions | None = None) -> list[ApiFinding]:
    """Every way the pact's interactions disagree with `spec` (OpenAPI for HTTP, AsyncAPI for messages);
    `messages` says how to read message interactions where the defaults do not."""
    document, contract = load_document(spec), _load(pact)
    checker = _Checker(document, messages or MessageOptions())
    findings: list[ApiFinding] = []
    wanted = pactfile.HTTP_KINDS if document.kind == "openapi" else MESSAGE_KINDS
    checked = 0
    for interaction in pactfile.interactions_of(contract):
        kind = pactfile.interaction_kind(interaction)
        if kind not in wanted:
            findings.append(
                ApiFinding(
                    _name(interaction),
                    "pact-interaction-not-checked",
                    "warning",
                    f"{kind} interactions cannot be checked against an {document.kind} document",
                )
            )
            continue
        checked += 1
        found = checker.http(interaction) if document.kind == "openapi" else checker.message(interaction, kind)
        if interaction.get("pending") is True:  # the provider has not promised it yet: reported, not failing
            found = [ApiFinding(item.location, item.rule, "warning", f"{item.message} (pending interaction)") for item in found]
        findings += found
    if not checked:
        consumer, provider = pactfile.pair_of(contract)
        raise SpecError(
            f"the pact {consumer} -> {provider} holds no interaction an {document.kind} document describes "
            f"({'HTTP' if document.kind == 'openapi' else 'asynchronous message'} interactions); nothing would be checked"
        )
    return sorted(set(findings))


def assert_pact_matches_openapi(pact: PactSource, spec: Source) -> list[ApiFinding]:
    """Fail unless every HTTP interaction of `pact` is possible under the provider's OpenAPI `spec`; return the warnings."""
    return _assert(pact, spec, "openapi")


def assert_pact_matches_asyncapi(
    pact: PactSource,
    spec: Source,
    *,
    channel_of: ChannelOf | None = None,
    proto: ProtoSchema | None = None,
    proto_types: Mapping[str, str] | None = None,
) -> list[ApiFinding]:
    """Fail unless every message of `pact` is possible under the provider's AsyncAPI `spec`; return the warnings.

    `channel_of` names an interaction's channel where its metadata has none of `CHANNEL_KEYS`; `proto`
    (a compiled schema) and `proto_types` (declared message id -> Protobuf message type) read Protobuf
    payloads whose `.proto` is not in the document."""
    return _assert(pact, spec, "asyncapi", MessageOptions(channel_of, proto, proto_types))


def _assert(pact: PactSource, spec: Source, kind: str, options: MessageOptions | None = None) -> list[ApiFinding]:
    document, contract = load_document(spec), _load(pact)
    if document.kind != kind:
        raise SpecError(f"{document.source} is an {document.kind} document; this check needs an {kind} document")
    consumer, provider = pactfile.pair_of(contract)
    return raise_on_errors(
        f"the pact {consumer} -> {provider} expects what {document_label(document)} does not declare",
        pact_mismatches(contract, document, options),
        ADVICE,
    )


def _load(pact: PactSource) -> dict[str, Any]:
    if isinstance(pact, Mapping):
        if not pactfile.is_pact(dict(pact)):
            raise NotAPact("the mapping given is not a pact: it has no consumer and provider names")
        return dict(pact)
    return pactfile.load_pact(Path(pact))


def _name(interaction: Mapping[str, Any]) -> str:
    return repr(str(interaction.get("description", "")))


def _tokens(path: str) -> list[str]:
    """`$.items[0]['a b']` -> ["items", "0", "a b"]."""
    return [next(group for group in match.groups() if group is not None) for match in _STEP.finditer(path)]


def _relaxed(node: Any, drop: frozenset[str], names: bool = False) -> Any:
    """A copy of a document without the schema keywords in `drop` (names in name maps and example data kept)."""
    if isinstance(node, list):
        return [_relaxed(item, drop) for item in node]
    if not isinstance(node, Mapping):
        return node
    copy: dict[str, Any] = {}
    for key, value in node.items():
        if not names and key in drop and (key != "required" or isinstance(value, list)):
            continue
        copy[key] = value if not names and key in _DATA else _relaxed(value, drop, not names and key in _NAME_MAPS)
    return copy


def _matcher_rules(part: Mapping[str, Any], category: str) -> list[tuple[list[str], set[str]]]:
    """(path tokens, matcher names) of the rules on `category` ("body"), V2 and V3/V4 layouts alike."""
    rules = part.get("matchingRules")
    found: list[tuple[list[str], set[str]]] = []
    if not isinstance(rules, Mapping):
        return found
    for key, rule in rules.items():
        if key.startswith(f"$.{category}") and isinstance(rule, Mapping):  # V2: "$.body.status": {"match": "type"}
            found.append((_tokens(key[len(f"$.{category}") :]), {str(rule.get("match"))}))
        elif key == category and isinstance(rule, Mapping):  # V3/V4: "body": {"$.status": {"matchers": [...]}}
            for path, spec in rule.items():
                matchers = spec.get("matchers", []) if isinstance(spec, Mapping) else []
                found.append((_tokens(path), {str(matcher.get("match")) for matcher in matchers if isinstance(matcher, Mapping)}))
    return found


def _covered(path: str, rules: list[tuple[list[str], set[str]]]) -> bool:
    """Whether a relaxing matcher applies at `path` (rules cascade to what is below them)."""
    tokens = _tokens(path)
    return any(
        matchers & RELAXING_MATCHERS and len(rule) <= len(tokens) and all(step in ("*", tokens[index]) for index, step in enumerate(rule))
        for rule, matchers in rules
    )


def _headers(raw: Any) -> dict[str, list[str]]:
    """Header name (lower case) -> values; V4 keeps a list per header, V2/V3 one comma-joined string."""
    found: dict[str, list[str]] = {}
    for name, value in (raw or {}).items():
        values = value if isinstance(value, list) else [value]
        found[str(name).lower()] = [str(item) for item in values]
    return found


def _query(raw: Any) -> dict[str, list[str]]:
    if isinstance(raw, str):  # V2: "a=1&b=2"
        return dict(parse_qs(raw, keep_blank_values=True))
    return {str(name): [str(item) for item in (values if isinstance(values, list) else [values])] for name, values in (raw or {}).items()}


def _media(declared: dict[str, str], wanted: str) -> str | None:
    """The declared media type that covers `wanted` (exact, without parameters, `type/*`, `*/*`)."""
    bare = wanted.split(";")[0].strip().lower()
    lowered = {media.split(";")[0].strip().lower(): media for media in declared}
    for candidate in (bare, f"{bare.split('/')[0]}/*", "*/*"):
        if candidate in lowered:
            return lowered[candidate]
    return None


class _Checker:
    """Checks interactions against one document; validators and relaxed copies are built once."""

    def __init__(self, document: ApiDocument, options: MessageOptions) -> None:
        self.document = document
        self.options = options
        self._payloads: dict[str, PayloadChecker] = {}
        self._validators: dict[tuple[str, str], SchemaValidator] = {}
        self._copies: dict[str, ApiDocument] = {}
        self._operations: list[tuple[re.Pattern[str], int, dict[str, Operation]]] | None = None

    # -- shared ------------------------------------------------------------------------------
    def _copy(self, which: str) -> ApiDocument:
        """ "strict": the document itself; "possible": without `required`; "types": without any value constraint."""
        if which == "strict":
            return self.document
        if which not in self._copies:
            drop = frozenset({"required", "minProperties"}) if which == "possible" else _VALUE_KEYWORDS
            raw = _relaxed(self.document.raw, drop)
            self._copies[which] = ApiDocument(raw, self.document.source, self.document.kind, self.document.version)
        return self._copies[which]

    def _violations(self, which: str, pointer: str, value: Any) -> list[SchemaViolation]:
        key = (which, pointer)
        if key not in self._validators:
            self._validators[key] = SchemaValidator(self._copy(which), pointer)
        return self._validators[key].violations(value)

    def _possible(self, where: str, pointer: str, value: Any, rules: list[tuple[list[str], set[str]]], rule: str) -> list[ApiFinding]:
        """Findings unless some value the consumer accepts (per its matchers) is allowed by the schema at `pointer`."""
        shown: set[tuple[str, str]] = set()
        findings = []
        candidates = self._violations("types", pointer, value) + [
            violation for violation in self._violations("possible", pointer, value) if not _covered(violation.path, rules)
        ]
        for violation in candidates:
            if (violation.path, violation.message) not in shown:
                shown.add((violation.path, violation.message))
                findings.append(
                    ApiFinding(
                        f"{where} {violation.path}", f"{rule}-invalid", "error", f"{violation.message} (schema {violation.schema_path})"
                    )
                )
        for path in self._undeclared(self.document.at(pointer), value, "$"):
            findings.append(
                ApiFinding(
                    f"{where} {path}",
                    f"{rule}-field-not-declared",
                    "error",
                    "the consumer relies on a field the schema does not declare; the provider never promised it",
                )
            )
        return findings

    def _undeclared(self, schema: Any, value: Any, path: str) -> list[str]:
        """Paths of object fields in `value` that `schema` (its properties, across allOf/anyOf/oneOf) never names."""
        declared, extra, items = self._shape(schema)
        found: list[str] = []
        if isinstance(value, Mapping):
            for key, item in value.items():
                child = f"{path}.{key}" if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)) else f"{path}[{str(key)!r}]"
                if key in declared:
                    found += self._undeclared(declared[key], item, child)
                elif isinstance(extra, Mapping):
                    found += self._undeclared(extra, item, child)
                elif declared or extra is False:
                    found.append(child)
        elif isinstance(value, list) and items is not None:
            for index, item in enumerate(value):
                found += self._undeclared(items, item, f"{path}[{index}]")
        return found

    def _shape(self, schema: Any, depth: int = 0) -> tuple[dict[str, Any], Any, Any]:
        """Declared properties, additionalProperties (a schema, False, or None) and items, over the combinators."""
        node = self.document.resolve(schema)
        declared: dict[str, Any] = {}
        extra: Any = None
        items: Any = None
        if not isinstance(node, Mapping) or depth > 32:
            return declared, True, None
        declared.update(node.get("properties") or {})
        if "additionalProperties" in node:
            extra = node["additionalProperties"]
        if node.get("patternProperties"):
            extra = True
        items = node.get("items")
        for combinator in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(combinator) or []:
                branch_declared, branch_extra, branch_items = self._shape(branch, depth + 1)
                for name, value in branch_declared.items():
                    declared.setdefault(name, value)
                if branch_extra is not None and branch_extra is not False and extra is None:
                    extra = branch_extra
                items = items if items is not None else branch_items
        return declared, extra, items

    # -- HTTP against OpenAPI ----------------------------------------------------------------
    def _templates(self) -> list[tuple[re.Pattern[str], int, dict[str, Operation]]]:
        if self._operations is None:
            by_path: dict[str, dict[str, Operation]] = {}
            for operation in operations(self.document).values():
                by_path.setdefault(operation.path, {})[operation.method] = operation
            self._operations = []
            for path, methods in by_path.items():
                parts = re.split(r"(\{[^}/]+\})", path)
                pattern = "".join("([^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
                self._operations.append((re.compile(f"^{pattern}/?$"), path.count("{"), methods))
            self._operations.sort(key=lambda entry: entry[1])  # literal paths before templated ones
        return self._operations

    def _prefixes(self) -> list[str]:
        prefixes = []
        for server in self.document.raw.get("servers") or []:
            url = str(server.get("url", "")) if isinstance(server, Mapping) else ""
            for name, variable in (server.get("variables") or {}).items():
                url = url.replace(f"{{{name}}}", str(variable.get("default", "")))
            path = (urlparse(url).path if "://" in url else url).rstrip("/")
            if path and path not in prefixes:
                prefixes.append(path)
        return [*sorted(prefixes, key=len, reverse=True), ""]

    def _operation(self, method: str, path: str) -> tuple[Operation | None, list[str], list[str]]:
        """The operation, the path's declared methods (when the path is declared), and the path's raw parameter values."""
        for prefix in self._prefixes():
            if prefix and not (path == prefix or path.startswith(f"{prefix}/")):
                continue
            rest = path[len(prefix) :] or "/"
            for pattern, _, methods in self._templates():
                match = pattern.match(rest)
                if match:
                    values = [unquote(value) for value in match.groups()]
                    return methods.get(method), sorted(methods), values
        return None, [], []

    def http(self, interaction: Mapping[str, Any]) -> list[ApiFinding]:
        request, response = interaction.get("request") or {}, interaction.get("response") or {}
        method, path = str(request.get("method", "GET")).upper(), str(request.get("path", "/"))
        label = f"{_name(interaction)} ({method} {path})"
        operation, methods, values = self._operation(method, path)
        if operation is None:
            if methods:
                return [ApiFinding(label, "pact-method-not-declared", "error", f"{path} declares only {', '.join(methods)}")]
            return [ApiFinding(label, "pact-path-not-declared", "error", "no path of the document matches; the provider may answer 404")]
        findings = self._request(label, operation, request, values)
        status = response.get("status", 200)
        declared = status_for(operation.responses, status)
        where = f"{label} response {status}"
        if declared is None:
            listed = ", ".join(operation.responses) or "none"
            return [
                *findings,
                ApiFinding(where, "pact-response-status-not-declared", "error", f"status {status} is not declared (declared: {listed})"),
            ]
        response_pointer, response_node = operation.responses[declared]
        headers = _headers(response.get("headers"))
        spec_headers = {str(name).lower() for name in response_node.get("headers") or {}}
        for name in sorted(set(headers) - spec_headers - {"content-type"}):
            findings.append(
                ApiFinding(
                    f"{where} header {name}",
                    "pact-response-header-not-declared",
                    "warning",
                    "the consumer expects a header the response does not declare",
                )
            )
        body = response.get("body")
        if body is None:
            return findings
        content_type = body.get("contentType") if isinstance(body, Mapping) and "content" in body else None
        wanted = str(content_type or (headers.get("content-type") or ["application/json"])[0])
        declared_media = media_types(response_node)
        media = _media(declared_media, wanted)
        if media is None:
            shown = ", ".join(declared_media) or "no body"
            return [
                *findings,
                ApiFinding(
                    f"{where} body", "pact-response-media-type-not-declared", "error", f"{wanted} is not declared (declared: {shown})"
                ),
            ]
        if "schema" not in response_node["content"][media]:
            return findings
        pointer = self.document.follow(f"{response_pointer}/content/{declared_media[media]}/schema")[0]
        rules = _matcher_rules(response, "body")
        return findings + self._possible(f"{where} body", pointer, _parsed(pactfile.content_of(body)), rules, "pact-response-body")

    def _request(self, label: str, operation: Operation, request: Mapping[str, Any], path_values: list[str]) -> list[ApiFinding]:
        findings: list[ApiFinding] = []
        sent = {
            "query": _query(request.get("query")),
            "header": _headers(request.get("headers")),
            "path": {key: [value] for key, value in zip([f"#{index}" for index in range(len(path_values))], path_values, strict=True)},
        }
        for (where, key), parameter in operation.parameters.items():
            if where not in sent:
                continue
            values = sent[where].get(key)
            if values is None:
                if parameter.required:
                    findings.append(
                        ApiFinding(
                            f"{label} {parameter.label}",
                            "pact-request-parameter-missing",
                            "error",
                            "required by the document; the consumer does not send it",
                        )
                    )
                continue
            findings += self._parameter(label, parameter, values)
        declared = {key for where, key in operation.parameters if where == "query"}
        for name in sorted(set(sent["query"]) - declared):
            findings.append(
                ApiFinding(
                    f"{label} query parameter {name}",
                    "pact-request-parameter-not-declared",
                    "warning",
                    "the consumer sends a parameter the document does not declare",
                )
            )
        return findings + self._request_body(label, operation, request)

    def _parameter(self, label: str, parameter: Parameter, values: list[str]) -> list[ApiFinding]:
        if "schema" not in parameter.node:
            return []
        pointer = self.document.follow(f"{parameter.pointer}/schema")[0]
        schema = self.document.resolve(parameter.node["schema"])
        if _types(schema) & {"array"}:
            candidates: list[Any] = [[_coerce(self.document, schema.get("items"), part) for value in values for part in value.split(",")]]
        else:
            candidates = [_coerce(self.document, schema, value) for value in values]
        return [
            ApiFinding(f"{label} {parameter.label}", "pact-request-parameter-invalid", "error", f"{value!r}: {violation.message}")
            for value in candidates
            for violation in self._violations("strict", pointer, value)
        ]

    def _request_body(self, label: str, operation: Operation, request: Mapping[str, Any]) -> list[ApiFinding]:
        where = f"{label} request body"
        body = request.get("body")
        declared = operation.request_body
        if body is None:
            if declared is not None and declared[1].get("required") is True:
                return [
                    ApiFinding(where, "pact-request-body-missing", "error", "the document requires a request body; the consumer sends none")
                ]
            return []
        if declared is None:
            return [ApiFinding(where, "pact-request-body-not-declared", "error", "the consumer sends a body; the operation declares none")]
        content_type = body.get("contentType") if isinstance(body, Mapping) and "content" in body else None
        wanted = str(content_type or (_headers(request.get("headers")).get("content-type") or ["application/json"])[0])
        declared_media = media_types(declared[1])
        media = _media(declared_media, wanted)
        if media is None:
            return [
                ApiFinding(
                    where,
                    "pact-request-media-type-not-declared",
                    "error",
                    f"{wanted} is not accepted (accepted: {', '.join(declared_media)})",
                )
            ]
        if "schema" not in declared[1]["content"][media]:
            return []
        pointer = self.document.follow(f"{declared[0]}/content/{declared_media[media]}/schema")[0]
        return [
            ApiFinding(
                f"{where} {violation.path}", "pact-request-body-invalid", "error", f"{violation.message} (schema {violation.schema_path})"
            )
            for violation in self._violations("strict", pointer, _parsed(pactfile.content_of(body)))
        ]

    # -- messages against AsyncAPI -----------------------------------------------------------
    def message(self, interaction: Mapping[str, Any], kind: str) -> list[ApiFinding]:
        """Findings for one message (an asynchronous one, or the request of a synchronous one)."""
        channels = self.document.derived("asyncapi-channels", self.document.raw, lambda _: asyncapi_channels(self.document))
        synchronous = kind == "Synchronous/Messages"
        part = interaction.get("request") if synchronous else interaction
        body, content_type, metadata = _message_contents(part if isinstance(part, Mapping) else {}, interaction)
        own = self.options.channel_of(interaction) if self.options.channel_of is not None else None
        named = [own] if own else [str(metadata[key]) for key in CHANNEL_KEYS if isinstance(metadata.get(key), str) and metadata[key]]
        label = f"{_name(interaction)} ({'request ' if synchronous else ''}message{' on ' + named[0] if named else ''})"
        role: Role = "receives" if synchronous else "sends"
        if named:
            found = {spec.id: spec for name in named if (hit := channels.find(name)) is not None for spec in (hit[0],)}
            if not found:
                known = ", ".join(channel.label for channel in channels.channels.values()) or "none"
                return [ApiFinding(label, "pact-channel-not-declared", "error", f"no channel {named[0]}; channels: {known}")]
            candidates = [(spec, message) for spec in found.values() for message in spec.messages]
            if not candidates:
                where = ", ".join(spec.label for spec in found.values())
                return [ApiFinding(label, "pact-channel-without-messages", "error", f"channel {where} declares no messages")]
        else:
            candidates = [(spec, message) for spec in channels.channels.values() for message in spec.messages]
        fitting = [(spec, message) for spec, message in candidates if not message.roles or role in message.roles]
        findings: list[ApiFinding] = []
        if not fitting:
            where = ", ".join(dict.fromkeys(_address(spec) for spec, _ in candidates)) or "any channel"
            other = "receives" if role == "sends" else "sends"
            direction = ApiFinding(
                label,
                "pact-message-not-sent" if role == "sends" else "pact-message-not-received",
                "error",
                f"the provider {role} no message on {where} (it only {other} there)",
            )
            if not named:
                return [direction]
            # Named channel, wrong direction: many documents are written from the client's side, so warn and still check the contents.
            findings.append(ApiFinding(direction.location, direction.rule, "warning", direction.message))
            fitting = candidates
        rules = _matcher_rules(part if isinstance(part, Mapping) else {}, "body") or _matcher_rules(interaction, "body")
        contents = part.get("contents") if isinstance(part, Mapping) else None
        rules = rules or (_matcher_rules(contents, "body") if isinstance(contents, Mapping) else [])
        attempts: list[list[ApiFinding]] = []
        for spec, declared in fitting:
            attempt = self._message_payload(
                f"{label} channel {_address(spec)} message {declared.name or declared.id}", declared, body, content_type, rules
            )
            if not any(finding.is_error for finding in attempt):
                return findings + attempt
            attempts.append(attempt)
        if named:  # every message the named channel may carry, and why the contents are none of them
            return findings + [finding for attempt in attempts for finding in attempt]
        return findings + min(attempts, key=len)

    def _message_payload(
        self, where: str, declared: MessageSpec, body: bytes, content_type: str | None, rules: list[tuple[list[str], set[str]]]
    ) -> list[ApiFinding]:
        """Findings unless the contents are possibly `declared`: its content type, then its payload read as it says."""
        if content_type is not None and _base(content_type) != _base(declared.content_type):
            return [
                ApiFinding(
                    where,
                    "pact-message-content-type-not-declared",
                    "error",
                    f"content type {content_type} is not the message's {declared.content_type}",
                )
            ]
        if declared.payload_pointer is None:
            return []  # a message without a payload schema allows any contents
        if declared.pointer not in self._payloads:
            proto_type = (self.options.proto_types or {}).get(declared.id)
            self._payloads[declared.pointer] = PayloadChecker(self.document, declared, proto=self.options.proto, proto_type=proto_type)
        checker = self._payloads[declared.pointer]
        if declared.payload_format != "jsonschema":  # Avro, Protobuf: the bytes are read and checked as they are
            return [
                ApiFinding(
                    f"{where} payload {violation.path}",
                    "pact-message-invalid",
                    "error",
                    f"{violation.message} (schema {violation.schema_path})",
                )
                for violation in checker.violations(body)
            ]
        try:
            value = checker.read(body)
        except ValueError as error:
            return [
                ApiFinding(f"{where} payload", "pact-message-unreadable", "error", f"cannot be read as {checker.payload_type}: {error}")
            ]
        pointer = self.document.follow(declared.payload_pointer)[0]
        findings = self._possible(f"{where} payload", pointer, value, rules, "pact-message")
        return findings + [
            ApiFinding(
                f"{where} payload {violation.path}",
                "pact-message-required-field-missing",
                "warning",
                f"{violation.message} (schema {violation.schema_path}); the consumer's example leaves out a field the provider sends",
            )
            for violation in self._violations("strict", pointer, value)
            if violation.schema_path.endswith("/required")
        ]


def _address(spec: ChannelSpec) -> str:
    return spec.address or spec.id


def _message_contents(part: Mapping[str, Any], interaction: Mapping[str, Any]) -> tuple[bytes, str | None, Mapping[str, Any]]:
    """A message's bytes (V4 base64 contents decoded), its content type (None when the pact does not say) and its metadata."""
    contents = part.get("contents")
    metadata = (
        part.get("metadata") or interaction.get("metadata") or (contents.get("metadata") if isinstance(contents, Mapping) else None) or {}
    )
    content_type = metadata.get("contentType") or metadata.get("content-type")
    if isinstance(contents, Mapping) and "content" in contents and "contentType" in contents:  # V4
        content_type = contents["contentType"] or content_type
        encoded, contents = contents.get("encoded"), contents["content"]
        if isinstance(contents, str) and isinstance(encoded, str) and encoded.lower() == "base64":
            return base64.b64decode(contents), content_type, metadata
    if isinstance(contents, str):
        return contents.encode(), content_type, metadata
    return json.dumps(contents).encode(), content_type, metadata


def _base(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _parsed(body: Any) -> Any:
    """A JSON body a pact keeps as a string (some V3 writers do) read as JSON; anything else as it is."""
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _types(schema: Any) -> set[str]:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    return {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()


def _coerce(document: ApiDocument, schema: Any, text: str) -> Any:
    """A parameter's text as the value its schema describes (`"2"` -> 2 for an integer)."""
    for kind in ("integer", "number", "boolean"):
        if kind in _types(document.resolve(schema)) and (value := text_value(text, kind)) is not text:
            return value
    return text
