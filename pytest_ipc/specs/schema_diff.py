"""Two versions of one schema compared from the side of whoever a change breaks (the one owner).

Values flow one way through a schema: writers produce them, readers accept them. Where the *new*
definition reads what *old* writers send (an OpenAPI request, a message the application receives:
flow "in"), every value the old schema allowed must still be allowed, so narrowing breaks the
writers. Where *old* readers read what the *new* definition writes (a response, a message the
application sends: flow "out"), every value the new schema allows must have been allowed before, so
widening breaks the readers. Where the direction is unknown ("both"), both apply. References are
followed (recursive schemas are visited once per pair), `allOf` is merged, OpenAPI 3.0's `nullable`
and 3.1's type arrays and `const` read the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_ipc.specs.document import ApiDocument
from pytest_ipc.specs.findings import ApiFinding, Severity

Flow = Literal["in", "out", "both"]
_ABSENT = object()
# keyword, which way is tighter (+1: a smaller value is tighter), rule-id words when tightened / loosened
_BOUNDS = (
    ("maxLength", 1, "max-length-decreased", "max-length-increased"),
    ("minLength", -1, "min-length-increased", "min-length-decreased"),
    ("maximum", 1, "max-decreased", "max-increased"),
    ("minimum", -1, "min-increased", "min-decreased"),
    ("maxItems", 1, "max-items-decreased", "max-items-increased"),
    ("minItems", -1, "min-items-increased", "min-items-decreased"),
)
_NUMBERS = (int, float)
_UNCUT = 1 << 30
_ANY: dict[str, Any] = {}  # the schema of a value that may be anything (one object: comparisons key on identity)
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Roles:
    """Who writes and who reads the values, for messages ("clients"/"the server", "publishers"/"consumers")."""

    subject: str  # rule-id stem: "request-property", "response-property", "request-parameter", "message-field"
    writers: str
    readers: str


@dataclass
class _View:
    """A schema as the comparison reads it: references followed, `allOf` merged."""

    types: frozenset[str] | None = None  # None: any type
    enum: list[Any] | None = None  # without null (null is a type here)
    properties: dict[str, Any] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: Any = None
    additional: Any = None
    variants: list[Any] = field(default_factory=list)
    bounds: dict[str, Any] = field(default_factory=dict)
    pattern: str | None = None
    format: str | None = None
    default: Any = _ABSENT
    read_only: bool = False
    write_only: bool = False


class SchemaComparison:
    """Compares schemas of an old and a new document along one flow; one instance serves every place of a check."""

    def __init__(self, old: ApiDocument, new: ApiDocument, flow: Flow, roles: Roles) -> None:
        self.old, self.new, self.flow, self.roles = old, new, flow, roles
        self._produced: list[ApiFinding] = []  # every finding as made, in order (repeats included)
        self._open: dict[tuple[int, int], int] = {}  # pairs being compared -> their depth
        # Pair -> its findings relative to where it was compared: one schema used at many places is compared once.
        self._memo: dict[tuple[int, int], list[tuple[str, str, Severity, str]]] = {}

    def compare(self, old_schema: Any, new_schema: Any, location: str, path: str = "$") -> list[ApiFinding]:
        """Every change from `old_schema` to `new_schema` that breaks a side of the flow, at `location`."""
        start = len(self._produced)
        self._compare(old_schema, new_schema, location, path)
        return list(dict.fromkeys(self._produced[start:]))

    def _compare(self, old_schema: Any, new_schema: Any, location: str, path: str) -> int:
        """Compare one pair; returns the depth of the outermost open pair a cycle below was cut at."""
        old_node, new_node = self.old.resolve(old_schema), self.new.resolve(new_schema)
        pair = (id(old_node), id(new_node))
        if pair in self._open:  # a recursive schema, already being compared further up
            return self._open[pair]
        prefix = f"{location} {path}"
        if pair in self._memo:
            for suffix, rule, severity, message in self._memo[pair]:
                self._add(f"{prefix}{suffix}".rstrip(), rule, severity, message)
            return _UNCUT
        depth, start = len(self._open), len(self._produced)
        self._open[pair] = depth
        try:
            cut = self._compare_nodes(_viewed(self.old, old_node), _viewed(self.new, new_node), location, path)
        finally:
            del self._open[pair]
        if cut >= depth:  # nothing below depended on a comparison further up: the result holds wherever the pair recurs
            self._memo[pair] = [
                (
                    finding.location[len(prefix) :] if finding.location.startswith(prefix) else "",
                    finding.rule,
                    finding.severity,
                    finding.message,
                )
                for finding in self._produced[start:]
            ]
        return cut

    def _compare_nodes(self, old: _View, new: _View, location: str, path: str) -> int:
        where = f"{location} {path}".rstrip()
        if self.flow in ("in", "both"):
            self._narrowed(writer=old, reader=new, where=where, flow="in")
            self._default_changed(old, new, where)
        if self.flow in ("out", "both"):
            self._narrowed(writer=new, reader=old, where=where, flow="out")
        cut = self._objects(old, new, location, path)
        if old.items is not None and new.items is not None:
            cut = min(cut, self._compare(old.items, new.items, location, f"{path}[*]"))
        if isinstance(old.additional, Mapping) and isinstance(new.additional, Mapping):
            cut = min(cut, self._compare(old.additional, new.additional, location, f"{path}.*"))
        return min(cut, self._variants(old, new, location, path))

    def _add(self, where: str, rule: str, severity: Severity, message: str) -> None:
        self._produced.append(ApiFinding(where, rule, severity, message))

    def _narrowed(self, writer: _View, reader: _View, where: str, flow: Flow) -> None:
        """What `writer` may produce and `reader` rejects: an error for old writers, mostly a warning for old readers."""
        subject = self.roles.subject
        old, new = (writer, reader) if flow == "in" else (reader, writer)
        broken = (
            f"old {self.roles.writers} that send it are rejected" if flow == "in" else f"old {self.roles.readers} that read it may fail"
        )
        strict = f"strict {self.roles.readers} may reject the new values"
        missing = _uncovered(writer.types, reader.types)
        if missing == ["null"]:
            became = "not-nullable" if flow == "in" else "nullable"
            self._add(where, f"{subject}-became-{became}", "error", f"null {'no longer' if flow == 'in' else 'now'} allowed; {broken}")
        elif missing:
            self._add(where, f"{subject}-type-changed", "error", f"type changed from {_types(old.types)} to {_types(new.types)}; {broken}")
        if reader.enum is not None:
            extra = [value for value in writer.enum if value not in reader.enum] if writer.enum is not None else None
            if flow == "in" and extra != []:
                shown = ", ".join(map(repr, extra)) if extra else f"anything but {', '.join(map(repr, reader.enum))} (no enum before)"
                self._add(where, f"{subject}-enum-value-removed", "error", f"enum no longer allows {shown}; {broken}")
            elif flow == "out" and extra != []:
                shown = ", ".join(map(repr, extra)) if extra else "any value (the enum was dropped)"
                self._add(
                    where,
                    f"{subject}-enum-value-added",
                    "warning",
                    f"enum now allows {shown}; strict {self.roles.readers} that check the enum may fail",
                )
        for keyword, sign, tightened, loosened in _BOUNDS:
            limit, allowed = reader.bounds.get(keyword), writer.bounds.get(keyword)
            if limit is None or (allowed is not None and (allowed - limit) * sign <= 0):
                continue
            before, after = old.bounds.get(keyword, "none"), new.bounds.get(keyword, "none")
            text = f"{keyword} changed from {before} to {after}"
            if flow == "in":
                self._add(where, f"{subject}-{tightened}", "error", f"{text}; {broken}")
            else:
                self._add(where, f"{subject}-{loosened}", "warning", f"{text}; {strict}")
        if reader.pattern is not None and reader.pattern != writer.pattern:
            text = f"pattern changed from {old.pattern!r} to {new.pattern!r}"
            severity: Severity = "error" if flow == "in" else "warning"
            self._add(where, f"{subject}-pattern-changed", severity, f"{text}; {broken if flow == 'in' else strict}")
        if reader.format is not None and writer.format is not None and reader.format != writer.format:
            self._add(where, f"{subject}-format-changed", "error", f"format changed from {old.format} to {new.format}; {broken}")

    def _default_changed(self, old: _View, new: _View, where: str) -> None:
        if old.default is not _ABSENT and new.default is not _ABSENT and old.default != new.default:
            self._add(
                where,
                f"{self.roles.subject}-default-changed",
                "error",
                f"default changed from {old.default!r} to {new.default!r}; old {self.roles.writers} that leave it out get another value",
            )

    def _objects(self, old: _View, new: _View, location: str, path: str) -> int:
        subject, writers, readers = self.roles.subject, self.roles.writers, self.roles.readers
        cut = _UNCUT
        for name in sorted(set(old.properties) | set(new.properties)):
            where = f"{location} {_child(path, name)}".rstrip()
            in_old, in_new = name in old.properties, name in new.properties
            old_property = _viewed(self.old, self.old.resolve(old.properties[name])) if in_old else None
            new_property = _viewed(self.new, self.new.resolve(new.properties[name])) if in_new else None
            if self.flow in ("in", "both") and not (new_property and new_property.read_only):
                if name in new.required and name not in old.required:
                    if in_old:
                        self._add(
                            where, f"{subject}-became-required", "error", f"now required; old {writers} that leave it out are rejected"
                        )
                    else:
                        self._add(
                            where, f"new-required-{subject}", "error", f"new required field; old {writers} do not send it and are rejected"
                        )
                if in_old and not in_new and not (old_property and old_property.read_only):
                    closed = new.additional is False
                    self._add(
                        where,
                        f"{subject}-removed",
                        "error" if closed else "warning",
                        f"removed; old {writers} that send it "
                        + ("are rejected (additionalProperties is false)" if closed else "send a field the new version ignores"),
                    )
            if self.flow in ("out", "both") and not (old_property and old_property.write_only):
                if name in old.required and name not in new.required:
                    if in_new:
                        self._add(
                            where, f"{subject}-became-optional", "error", f"no longer required; old {readers} that read it may not find it"
                        )
                    else:
                        self._add(where, f"{subject}-removed", "error", f"required field removed; old {readers} that read it break")
                elif in_old and not in_new and name not in new.required:
                    self._add(
                        where,
                        f"optional-{subject}-removed",
                        "warning",
                        f"optional field removed; old {readers} that read it no longer find it",
                    )
            if in_old and (in_new or name in new.required):  # required but no longer described: any value
                new_schema = new.properties[name] if in_new else _ANY
                cut = min(cut, self._compare(old.properties[name], new_schema, location, _child(path, name)))
        return cut

    def _variants(self, old: _View, new: _View, location: str, path: str) -> int:
        if not old.variants or not new.variants:
            return _UNCUT
        cut = _UNCUT
        for old_variant, new_variant in zip(old.variants, new.variants, strict=False):
            cut = min(cut, self._compare(old_variant, new_variant, location, path))
        where = f"{location} {path}".rstrip()
        if self.flow in ("in", "both") and len(new.variants) < len(old.variants):
            self._add(
                where,
                f"{self.roles.subject}-variant-removed",
                "error",
                f"oneOf/anyOf has {len(new.variants)} variant(s), had {len(old.variants)}; "
                f"old {self.roles.writers} that send a removed one are rejected",
            )
        if self.flow in ("out", "both") and len(new.variants) > len(old.variants):
            self._add(
                where,
                f"{self.roles.subject}-variant-added",
                "error",
                f"oneOf/anyOf has {len(new.variants)} variant(s), had {len(old.variants)}; "
                f"old {self.roles.readers} do not know the new one",
            )
        return cut


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if _PLAIN_NAME.match(name) else f"{path}[{name!r}]"


def _types(types: frozenset[str] | None) -> str:
    return "any type" if types is None else "|".join(sorted(types)) or "nothing"


def _uncovered(writer: frozenset[str] | None, reader: frozenset[str] | None) -> list[str]:
    """The types `writer` may produce that `reader` does not accept (an integer is a number)."""
    if reader is None:
        return []
    if writer is None:
        return ["any type"]
    return sorted(kind for kind in writer if kind not in reader and not (kind == "integer" and "number" in reader))


def _viewed(document: ApiDocument, node: Any) -> _View:
    """The view of a resolved node, built once per document (the same schemas recur across operations)."""
    return document.derived("schema-view", node, lambda raw: _view(document, raw))


def _view(document: ApiDocument, node: Any) -> _View:
    """The comparable parts of a resolved schema node, with its `allOf` branches merged in.

    `anyOf`/`oneOf` of one schema and `{type: null}` (how 3.1 and JSON Schema make a reference
    nullable) reads as that schema plus null; other variants give their types' union.
    """
    if node is True or node is None:
        return _View()
    if node is False:
        return _View(types=frozenset())
    if not isinstance(node, Mapping):
        return _View()
    view = _View()
    kind = node.get("type")
    if isinstance(kind, str):
        view.types = frozenset({kind})
    elif isinstance(kind, list):
        view.types = frozenset(str(item) for item in kind)
    values = [node["const"]] if "const" in node else node.get("enum")
    nullable = node.get("nullable") is True
    if isinstance(values, list):
        view.enum = [value for value in values if value is not None]
        nullable = nullable or None in values
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        view.properties = dict(properties)
    if isinstance(node.get("required"), list):
        view.required = {str(name) for name in node["required"]}
    view.items = node.get("items")
    view.additional = node.get("additionalProperties")
    view.variants = list(node.get("oneOf") or node.get("anyOf") or [])
    for keyword, *_ in _BOUNDS:
        if isinstance(node.get(keyword), _NUMBERS) and not isinstance(node.get(keyword), bool):
            view.bounds[keyword] = node[keyword]
    for keyword, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        if isinstance(node.get(keyword), _NUMBERS) and not isinstance(node.get(keyword), bool):  # 3.1 and JSON Schema 7+
            view.bounds.setdefault(bound, node[keyword])
    view.pattern = node.get("pattern") if isinstance(node.get("pattern"), str) else None
    view.format = node.get("format") if isinstance(node.get("format"), str) else None
    if "default" in node:
        view.default = node["default"]
    view.read_only, view.write_only = node.get("readOnly") is True, node.get("writeOnly") is True
    for branch in node.get("allOf") or []:
        _merge(view, _viewed(document, document.resolve(branch)))
    if view.variants:
        variants = [_viewed(document, document.resolve(variant)) for variant in view.variants]
        others = [variant for variant, seen in zip(view.variants, variants, strict=True) if seen.types != frozenset({"null"})]
        if len(others) == 1 and len(variants) > 1:
            view.variants = []
            _merge(view, _viewed(document, document.resolve(others[0])))
            nullable = True
        elif view.types is None and all(variant.types is not None for variant in variants):
            view.types = frozenset().union(*(variant.types or () for variant in variants))
    if nullable and view.types is not None:
        view.types = view.types | {"null"}
    return view


def _merge(view: _View, branch: _View) -> None:
    """`allOf`: a value must satisfy every branch, so types intersect and requirements add up."""
    if branch.types is not None:
        view.types = branch.types if view.types is None else view.types & branch.types
    view.enum = view.enum if view.enum is not None else branch.enum
    for name, schema in branch.properties.items():
        view.properties.setdefault(name, schema)
    view.required |= branch.required
    view.items = view.items if view.items is not None else branch.items
    view.additional = view.additional if view.additional is not None else branch.additional
    view.variants = view.variants or branch.variants
    for keyword, value in branch.bounds.items():
        view.bounds.setdefault(keyword, value)
    view.pattern = view.pattern or branch.pattern
    view.format = view.format or branch.format
    view.default = view.default if view.default is not _ABSENT else branch.default
    view.read_only = view.read_only or branch.read_only
    view.write_only = view.write_only or branch.write_only


class DocumentPair:
    """An old and a new document under comparison, with one `SchemaComparison` per flow and roles."""

    def __init__(self, old: ApiDocument, new: ApiDocument) -> None:
        self.old, self.new = old, new
        self._comparisons: dict[tuple[Flow, Roles], SchemaComparison] = {}

    def comparison(self, flow: Flow, roles: Roles) -> SchemaComparison:
        """The comparison along `flow` naming `roles`, shared by every place that uses it (and its memo)."""
        key = (flow, roles)
        if key not in self._comparisons:
            self._comparisons[key] = SchemaComparison(self.old, self.new, flow, roles)
        return self._comparisons[key]
