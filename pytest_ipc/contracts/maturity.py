"""REST maturity (Richardson levels 0-3) of each provider, judged only from its contracts.

0: one endpoint used as RPC; 1: several resources; 2: several HTTP verbs and meaningful status codes;
3: responses carry hypermedia links. Each level needs the ones below it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_ipc.contracts import pactfile

LEVEL_NAMES = ("plain RPC", "resources", "verbs + status codes", "hypermedia")
LINK_KEYS = {"_links", "links", "href", "_embedded"}
ID_SEGMENT = re.compile(r"/(\d+|[0-9a-fA-F-]{32,36})(?=/|$|\.)")


@dataclass
class MaturityReport:
    provider: str
    level: int | None
    resources: set[str] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)
    statuses: set[int] = field(default_factory=set)
    has_links: bool = False

    @property
    def reasons(self) -> list[str]:
        if self.level is None:
            return ["no HTTP interactions (messages only)"]
        return [
            f"{len(self.resources)} resource(s): {', '.join(sorted(self.resources))}",
            f"verbs: {', '.join(sorted(self.methods))}",
            f"status codes: {', '.join(map(str, sorted(self.statuses)))}",
            "hypermedia links in responses" if self.has_links else "no hypermedia links",
        ]

    def line(self) -> str:
        if self.level is None:
            return f"{self.provider}: not classified ({self.reasons[0]})"
        return f"{self.provider}: level {self.level} ({LEVEL_NAMES[self.level]}) - {'; '.join(self.reasons)}"


def assess_maturity(pact_paths: Iterable[Path]) -> list[MaturityReport]:
    """One report per provider found in `pact_paths`, sorted by provider name."""
    reports: dict[str, MaturityReport] = {}
    interactions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in pact_paths:
        document = pactfile.load_pact(path)
        provider = document["provider"]["name"]
        reports.setdefault(provider, MaturityReport(provider, None))
        interactions[provider] += [
            item
            for item in pactfile.interactions_of(document)
            if pactfile.interaction_kind(item) in pactfile.HTTP_KINDS
        ]
    for provider, report in reports.items():
        for interaction in interactions[provider]:
            request, response = interaction.get("request", {}), interaction.get("response", {})
            report.resources.add(ID_SEGMENT.sub("/{id}", request.get("path", "/")))
            report.methods.add(request.get("method", "GET").upper())
            report.statuses.add(int(response.get("status", 200)))
            report.has_links |= _has_links(pactfile.content_of(response.get("body"))) or "link" in {
                name.lower() for name in response.get("headers", {})
            }
        if interactions[provider]:
            report.level = _level(report)
    return [reports[name] for name in sorted(reports)]


def _level(report: MaturityReport) -> int:
    if len(report.resources) < 2:
        return 0
    if len(report.methods) < 2 or report.statuses <= {200}:
        return 1
    return 3 if report.has_links else 2


def _has_links(value: object) -> bool:
    if isinstance(value, dict):
        return bool(LINK_KEYS & set(value)) or any(_has_links(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_links(item) for item in value)
    return False


def report_lines(pact_paths: Iterable[Path]) -> list[str]:
    return [report.line() for report in assess_maturity(pact_paths)]
