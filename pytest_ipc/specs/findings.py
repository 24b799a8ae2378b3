"""What the checks between API definitions report: one finding per problem, errors apart from warnings.

The one owner of the finding type and of the failure the assertions raise, for every check that
compares two definitions (`openapi_changes`, `asyncapi_changes`) or a pact with a definition
(`pact_mismatches`). An error breaks someone (the message says whom); a warning may break a strict
reader and never fails an assertion.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.specs.document import ApiDocument

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class ApiFinding:
    """One change or mismatch: where it is, the rule it breaks (an id like oasdiff's) and what it means."""

    location: str  # "GET /pets/{id} response 200 body $.name", "channel orders.placed message OrderPlaced payload $.id"
    rule: str  # "response-property-removed"
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        """Whether the finding breaks someone (a warning never fails an assertion)."""
        return self.severity == "error"

    def describe(self) -> str:
        """One line: `location: message [rule]`."""
        return f"{self.location}: {self.message} [{self.rule}]"


class IncompatibleApi(IpcAssertionError):
    """Two API definitions (or a pact and a definition) disagree; `errors` and `warnings` list the findings."""

    def __init__(self, headline: str, findings: Iterable[ApiFinding], advice: str) -> None:
        ordered = sorted(findings)
        self.errors = [finding for finding in ordered if finding.is_error]
        self.warnings = [finding for finding in ordered if not finding.is_error]
        super().__init__(report(headline, ordered, advice))


def report(headline: str, findings: Iterable[ApiFinding], advice: str = "") -> str:
    """The text the assertions and the command line print: errors first, then warnings, one a line."""
    ordered = sorted(findings)
    errors = [finding for finding in ordered if finding.is_error]
    warnings = [finding for finding in ordered if not finding.is_error]
    lines = [f"{headline}: {len(errors)} error(s), {len(warnings)} warning(s)"]
    for title, group in (("errors (breaking)", errors), ("warnings (not failing)", warnings)):
        if group:
            lines.append(f"{title}:")
            lines += [f"  - {finding.describe()}" for finding in group]
    if errors and advice:
        lines.append(advice)
    return "\n".join(lines)


def raise_on_errors(headline: str, findings: list[ApiFinding], advice: str) -> list[ApiFinding]:
    """`IncompatibleApi` when a finding is an error; else the findings (warnings only), for the test to inspect."""
    if any(finding.is_error for finding in findings):
        raise IncompatibleApi(headline, findings, advice)
    return findings


def document_label(document: ApiDocument) -> str:
    """`petstore-v2.yaml (version 2.0.0)`: how a headline names a document."""
    version = (document.raw.get("info") or {}).get("version")
    name = os.path.basename(document.source) if not document.source.startswith("<") else document.title
    return f"{name} (version {version})" if version else name
