"""Breaking changes between two versions of an OpenAPI document, by the rules users know from oasdiff.

Requests are read by the new server from old clients (narrowing breaks the clients); responses are
read by old clients from the new server (widening breaks them): `schema_diff` compares each schema
along that flow. Around the schemas: removed paths and operations, new or newly required
parameters and bodies, removed media types and status codes, response headers, and security
requirements an old client no longer satisfies. Rule ids follow oasdiff's where oasdiff has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_ipc.specs.document import ApiDocument, Source, load_document
from pytest_ipc.specs.findings import ApiFinding, document_label, raise_on_errors
from pytest_ipc.specs.openapi_model import Operation, media_types, operations, status_for
from pytest_ipc.specs.schema_diff import DocumentPair, Flow, Roles

ADVICE = (
    "Keep what old clients rely on (restore removed parts, make new request fields optional, keep "
    "response fields required), or publish the change as a new major version of the API."
)
_REQUEST_PROPERTY = Roles("request-property", "clients", "the server")
_REQUEST_PARAMETER = Roles("request-parameter", "clients", "the server")
_RESPONSE_PROPERTY = Roles("response-property", "the server", "clients")
_RESPONSE_HEADER = Roles("response-header", "the server", "clients")


def openapi_changes(old: Source, new: Source) -> list[ApiFinding]:
    """Every change from `old` to `new` that breaks (errors) or may break (warnings) a client, sorted."""
    before, after = load_document(old), load_document(new)
    old_operations, new_operations = operations(before), operations(after)
    pair = DocumentPair(before, after)
    findings: list[ApiFinding] = []
    new_paths = {path for _, path in new_operations}
    removed_paths: dict[str, list[Operation]] = {}
    for key, operation in old_operations.items():
        if key[1] not in new_paths:
            removed_paths.setdefault(operation.path, []).append(operation)
        elif key not in new_operations:
            findings.append(_removed(operation, "api-operation-removed", f"operation {operation.method} removed"))
        else:
            findings += _operation_changes(pair, operation, new_operations[key])
    for path, removed in removed_paths.items():
        methods = ", ".join(sorted(operation.method for operation in removed))
        deprecated = all(operation.node.get("deprecated") is True for operation in removed)
        findings.append(
            ApiFinding(
                path,
                "api-path-removed-after-deprecation" if deprecated else "api-path-removed",
                "warning" if deprecated else "error",
                f"path removed ({methods}); old clients calling it get 404",
            )
        )
    return sorted(set(findings))


def assert_openapi_compatible(old: Source, new: Source) -> list[ApiFinding]:
    """Fail with every breaking change from `old` to `new`, one a line; return the warnings otherwise."""
    before, after = load_document(old), load_document(new)
    return raise_on_errors(f"{document_label(after)} breaks clients of {document_label(before)}", openapi_changes(before, after), ADVICE)


def _removed(operation: Operation, rule: str, message: str) -> ApiFinding:
    if operation.node.get("deprecated") is True:
        return ApiFinding(operation.label, f"{rule}-after-deprecation", "warning", f"{message} (it was deprecated)")
    return ApiFinding(operation.label, rule, "error", f"{message}; old clients calling it get 404 or 405")


def _operation_changes(pair: DocumentPair, old: Operation, new: Operation) -> list[ApiFinding]:
    label = new.label
    findings = _security_changes(old, new) + _parameter_changes(pair, old, new)
    findings += _request_body_changes(pair, old, new)
    for status, (_, old_response) in old.responses.items():
        declared = status_for(new.responses, status) if status != "default" else ("default" if "default" in new.responses else None)
        if declared is None:
            success = status.startswith("2")
            findings.append(
                ApiFinding(
                    f"{label} response {status}",
                    "response-success-status-removed" if success else "response-non-success-status-removed",
                    "error" if success else "warning",
                    f"status {status} no longer declared; old clients that handle it meet an undeclared answer",
                )
            )
            continue
        findings += _response_changes(pair, f"{label} response {status}", old_response, new.responses[declared][1])
    return findings


def _security_changes(old: Operation, new: Operation) -> list[ApiFinding]:
    """Breaking when some way an old client authenticated is no longer enough (oasdiff: api-security-*)."""
    new_alternatives = new.security
    stranded = [
        alternative
        for alternative in old.security
        if not any(
            set(candidate) <= set(alternative) and all(candidate[name] <= alternative[name] for name in candidate)
            for candidate in new_alternatives
        )
    ]
    if not stranded:
        return []
    return [
        ApiFinding(
            new.label,
            "api-security-changed",
            "error",
            f"security requirement changed from {_security_text(old.security)} to {_security_text(new_alternatives)}; "
            f"old clients authenticating with {_security_text(stranded)} are refused",
        )
    ]


def _security_text(alternatives: list[dict[str, frozenset[str]]]) -> str:
    parts = [
        " + ".join(f"{name}{'[' + ','.join(sorted(scopes)) + ']' if scopes else ''}" for name, scopes in sorted(alternative.items()))
        or "anonymous"
        for alternative in alternatives
    ]
    return " or ".join(parts)


def _parameter_changes(pair: DocumentPair, old: Operation, new: Operation) -> list[ApiFinding]:
    findings: list[ApiFinding] = []
    old_parameters, new_parameters = old.parameters, new.parameters
    for key, parameter in new_parameters.items():
        where = f"{new.label} {parameter.label}"
        if key not in old_parameters:
            if parameter.required:
                findings.append(
                    ApiFinding(where, "new-required-request-parameter", "error", "new required parameter; old clients do not send it")
                )
            continue
        previous = old_parameters[key]
        if parameter.required and not previous.required:
            findings.append(
                ApiFinding(where, "request-parameter-became-required", "error", "now required; old clients that leave it out are rejected")
            )
        comparison = pair.comparison("in", _REQUEST_PARAMETER)
        findings += comparison.compare(previous.node.get("schema"), parameter.node.get("schema"), where, "")
    for key, parameter in old_parameters.items():
        if key not in new_parameters:
            findings.append(
                ApiFinding(
                    f"{old.label} {parameter.label}",
                    "request-parameter-removed",
                    "warning",
                    "parameter removed; old clients still send it and it is ignored",
                )
            )
    return findings


def _request_body_changes(pair: DocumentPair, old: Operation, new: Operation) -> list[ApiFinding]:
    where = f"{new.label} request body"
    old_body, new_body = old.request_body, new.request_body
    if new_body is None:
        return []
    if old_body is None:
        if new_body[1].get("required") is True:
            return [ApiFinding(where, "new-required-request-body", "error", "a request body is now required; old clients send none")]
        return []
    findings: list[ApiFinding] = []
    if new_body[1].get("required") is True and old_body[1].get("required") is not True:
        findings.append(
            ApiFinding(
                where, "request-body-became-required", "error", "the request body is now required; old clients that send none are rejected"
            )
        )
    findings += _content_changes(pair, where, old_body[1], new_body[1], "request", "in", _REQUEST_PROPERTY)
    return findings


def _response_changes(pair: DocumentPair, where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ApiFinding]:
    findings = _content_changes(pair, f"{where} body", old, new, "response", "out", _RESPONSE_PROPERTY)
    old_headers, new_headers = _headers(pair.old, old), _headers(pair.new, new)
    for name, (written, header) in old_headers.items():
        location = f"{where} header {written}"
        if name not in new_headers:
            required = header.get("required") is True
            findings.append(
                ApiFinding(
                    location,
                    "required-response-header-removed" if required else "optional-response-header-removed",
                    "error" if required else "warning",
                    f"{'required' if required else 'optional'} header removed; old clients that read it no longer find it",
                )
            )
            continue
        replacement = new_headers[name][1]
        if header.get("required") is True and replacement.get("required") is not True:
            findings.append(
                ApiFinding(
                    location, "response-header-became-optional", "error", "no longer required; old clients that read it may not find it"
                )
            )
        comparison = pair.comparison("out", _RESPONSE_HEADER)
        findings += comparison.compare(header.get("schema"), replacement.get("schema"), location, "")
    return findings


def _headers(document: ApiDocument, response: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Lower-case name -> (name as written, resolved header): header names ignore case."""
    headers = response.get("headers")
    if not isinstance(headers, Mapping):
        return {}
    return {str(name).lower(): (str(name), document.resolve(node)) for name, node in headers.items()}


def _content_changes(
    pair: DocumentPair,
    where: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    side: str,
    flow: Flow,
    roles: Roles,
) -> list[ApiFinding]:
    findings: list[ApiFinding] = []
    old_media, new_media = media_types(old), media_types(new)
    several = len(old_media) > 1
    for media in old_media:
        location = f"{where} ({media})" if several else where
        if media not in new_media:
            rule, whom = (
                ("request-body-media-type-removed", "sending") if side == "request" else ("response-media-type-removed", "accepting")
            )
            findings.append(ApiFinding(location, rule, "error", f"media type {media} removed; old clients {whom} it break"))
            continue
        old_schema, new_schema = old["content"][media].get("schema"), new["content"][media].get("schema")
        if old_schema is not None and new_schema is not None:
            comparison = pair.comparison(flow, roles)
            findings += comparison.compare(old_schema, new_schema, location, "$")
    return findings
