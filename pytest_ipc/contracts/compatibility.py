"""Schema compatibility between two versions of a format: modes, categories, findings, the report.

The one owner of this vocabulary; the Avro, Protocol Buffers and Thrift checks all use it.

Modes follow the Schema Registry's meaning. BACKWARD: the new version reads what the old one wrote
(readers, or servers, upgrade first). FORWARD: the old version reads what the new one writes
(writers, or clients, upgrade first). FULL: both. Each finding names the directions it breaks, so a
mode only reports what can hurt it.

Categories are buf's, from strictest to most lenient: FILE and PACKAGE (generated source code no
longer compiles), WIRE_JSON (the binary or the JSON encoding breaks), WIRE (the binary encoding
breaks). A finding lists the categories that count it as breaking; the check enforces one category,
and a finding outside it is reported as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.contracts.errors import ContractError

MODES = ("BACKWARD", "FORWARD", "FULL")
CATEGORIES = ("FILE", "PACKAGE", "WIRE_JSON", "WIRE")
BACKWARD, FORWARD = ("BACKWARD",), ("FORWARD",)
BOTH = ("BACKWARD", "FORWARD")
ROUND_TRIP = "ROUND_TRIP"  # the rule id of a corruption seen by writing with one version, reading with the other

# BACKWARD: old writer → new reader, or old clients → new server; FORWARD: the reverse.
_DIRECTION_WORDS = {"BACKWARD": "BACKWARD (old → new)", "FORWARD": "FORWARD (new → old)"}


def directions_of(mode: str, what: str) -> tuple[str, ...]:
    """The directions (`BACKWARD`, `FORWARD`) a mode checks; a bad mode names the valid ones."""
    if mode not in MODES:
        raise IpcUsageError(f"unknown {what} compatibility mode {mode!r}; choose one of {', '.join(MODES)}")
    return BOTH if mode == "FULL" else (mode,)


def checked_category(category: str) -> str:
    """`category` if it is one of buf's; a bad one names the valid ones."""
    if category not in CATEGORIES:
        raise IpcUsageError(f"unknown compatibility category {category!r}; choose one of {', '.join(CATEGORIES)}")
    return category


@dataclass(frozen=True)
class CompatibilityFinding:
    """One change between two schema versions that breaks a reader, a writer or generated code."""

    rule: str  # buf's rule id where one exists ("FIELD_SAME_TYPE"), `ROUND_TRIP` for an executed check
    location: str  # "orders.proto:shop.v1.Order.total", "orders.thrift:Order.total"
    change: str  # what changed ("type changed from int64 to string")
    why: str  # why it breaks, and what to do instead
    directions: tuple[str, ...]  # BACKWARD: old writer → new reader (old clients → new server); FORWARD: reverse
    categories: tuple[str, ...] = CATEGORIES  # the categories that count it as breaking; () = advice only

    def __str__(self) -> str:
        directions = "BACKWARD and FORWARD" if len(self.directions) == 2 else _DIRECTION_WORDS[self.directions[0]]
        counted = f"breaks {', '.join(self.categories)}" if self.categories else "advice"
        return f"{self.rule} at {self.location}: {self.change}; {self.why} ({directions}; {counted})"


@dataclass
class CompatibilityReport:
    """What a check found: `failures` break the mode in the enforced category, `warnings` do not."""

    mode: str
    category: str = "WIRE"
    records_checked: int = 0  # records, messages or structs written with one version and read with the other
    failures: list[CompatibilityFinding] = field(default_factory=list)
    warnings: list[CompatibilityFinding] = field(default_factory=list)

    @property
    def compatible(self) -> bool:
        """True when nothing breaks the mode in the enforced category (warnings aside)."""
        return not self.failures

    def add(self, findings: list[CompatibilityFinding]) -> None:
        """File each finding that breaks a direction of the mode as a failure or a warning."""
        wanted = directions_of(self.mode, "schema")
        for finding in findings:
            if not set(finding.directions) & set(wanted):
                continue
            (self.failures if self.category in finding.categories else self.warnings).append(finding)

    def raise_if_incompatible(self, what: str) -> CompatibilityReport:
        """Raise `ContractError` listing every failure (one a line), or return the report."""
        if self.failures:
            also = f", and {len(self.warnings)} warning(s) in .result.warnings" if self.warnings else ""
            raise ContractError(
                f"{what} are not {self.mode} compatible ({self.category} enforced){also}:",
                [str(finding) for finding in self.failures],
                self,
            )
        return self
