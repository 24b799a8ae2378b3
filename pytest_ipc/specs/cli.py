"""The command-line checks of API documents (`python -m pytest_ipc openapi-diff OLD NEW` and friends).

Each prints the findings as the assertions word them, errors apart from warnings, and exits 0 when
nothing breaks (warnings allowed), 1 when something does, 2 on a usage error; `--format json`
prints the findings as a JSON list for other tools.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.specs.asyncapi_diff import asyncapi_changes
from pytest_ipc.specs.document import load_document
from pytest_ipc.specs.findings import ApiFinding, document_label, report
from pytest_ipc.specs.openapi_diff import openapi_changes
from pytest_ipc.specs.pact_check import pact_mismatches

BREAKING, USAGE_ERROR = 1, 2


def openapi_diff(argv: list[str]) -> int:
    """`openapi-diff OLD NEW`: breaking changes for clients between two OpenAPI documents."""
    return _compare(argv, "openapi-diff", "OpenAPI", openapi_changes, "clients")


def asyncapi_diff(argv: list[str]) -> int:
    """`asyncapi-diff OLD NEW`: breaking changes for publishers and consumers between two AsyncAPI documents."""
    return _compare(argv, "asyncapi-diff", "AsyncAPI", asyncapi_changes, "publishers or consumers")


def pact_check(argv: list[str]) -> int:
    """`pact-check PACT SPEC`: the pact's interactions against the provider's OpenAPI or AsyncAPI document."""
    parser = _parser("pact-check", "Check a consumer's pact against the provider's OpenAPI or AsyncAPI document.")
    parser.add_argument("pact", type=Path, help="the pact file (V2, V3 or V4)")
    parser.add_argument("spec", type=Path, help="the provider's OpenAPI or AsyncAPI document (YAML or JSON)")
    arguments = parser.parse_args(argv)
    try:
        _exists(arguments.pact, arguments.spec)
        spec = load_document(arguments.spec)
        findings = pact_mismatches(arguments.pact, spec)
    except IpcUsageError as error:
        print(f"pact-check: {error}", file=sys.stderr)
        return USAGE_ERROR
    return _print(findings, arguments.format, f"{arguments.pact.name} against {document_label(spec)}")


def _parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m pytest_ipc {name}", description=description)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="how to print the findings (default: text)")
    return parser


def _exists(*paths: Path) -> None:
    for path in paths:
        if not path.is_file():
            raise IpcUsageError(f"no such file: {path}")


def _compare(argv: list[str], name: str, kind: str, check: Callable[..., list[ApiFinding]], whom: str) -> int:
    parser = _parser(name, f"Breaking changes between two {kind} documents (exit 0: compatible, 1: breaking, 2: usage error).")
    parser.add_argument("old", type=Path, help=f"the {kind} document {whom} were built against")
    parser.add_argument("new", type=Path, help="the version to check")
    arguments = parser.parse_args(argv)
    try:
        _exists(arguments.old, arguments.new)
        old, new = load_document(arguments.old), load_document(arguments.new)
        findings = check(old, new)
    except IpcUsageError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return USAGE_ERROR
    return _print(findings, arguments.format, f"{document_label(new)} against {document_label(old)}")


def _print(findings: list[ApiFinding], form: str, headline: str) -> int:
    if form == "json":
        print(json.dumps([asdict(finding) for finding in findings], indent=2))
    else:
        print(report(headline, findings))
    return BREAKING if any(finding.is_error for finding in findings) else 0
