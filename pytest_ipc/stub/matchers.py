"""How a route decides a request is for it, and says why not (the unmatched report quotes that).

Expected values are plain data: a string (or number) compares equal, an `re.Pattern` must match the
whole value, a callable is a predicate. JSON bodies match partially: every key the route names must
be there with a matching value, extra keys are ignored; lists match element by element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pytest_ipc.stub.request import NOT_JSON, StubRequest

Expected = str | int | float | bool | re.Pattern[str] | Callable[[str], bool]
QueryExpected = Expected | Sequence[Expected]

NOT_GIVEN: object = object()

# {name} matches one path segment; {name:converter} picks another shape.
PATH_CONVERTERS = {"": "[^/]+", "str": "[^/]+", "int": "[0-9]+", "path": ".+"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]*))?\}")
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*|\*")


def value_matches(expected: object, actual: str) -> bool:
    if isinstance(expected, re.Pattern):
        return expected.fullmatch(actual) is not None
    if callable(expected):
        return bool(expected(actual))
    if isinstance(expected, bool):
        return actual.lower() == str(expected).lower()
    return actual == str(expected)


def describe_expected(expected: object) -> str:
    if isinstance(expected, re.Pattern):
        return f"/{expected.pattern}/"
    if callable(expected):
        return f"<{getattr(expected, '__name__', 'predicate')}>"
    return repr(expected)


class PathTemplate:
    """A path with `{name}` placeholders (`{name:int}`, `{name:path}` for the rest), or a regex."""

    def __init__(self, template: str | re.Pattern[str]) -> None:
        if isinstance(template, re.Pattern):
            self.text = f"/{template.pattern}/"
            self.regex: re.Pattern[str] = template
            return
        if not template.startswith("/"):
            raise ValueError(f"path template must start with '/', got {template!r}")
        self.text = template
        parts: list[str] = []
        names: list[str] = []
        position = 0
        for placeholder in _PLACEHOLDER.finditer(template):
            parts.append(self._literal(template, template[position : placeholder.start()]))
            name, converter = placeholder.group(1), placeholder.group(2) or ""
            if converter not in PATH_CONVERTERS:
                choices = ", ".join(sorted(c for c in PATH_CONVERTERS if c))
                raise ValueError(f"path template {template!r}: unknown converter {converter!r}; choose one of: {choices}")
            if name in names:
                raise ValueError(f"path template {template!r}: parameter {name!r} appears twice")
            names.append(name)
            parts.append(f"(?P<{name}>{PATH_CONVERTERS[converter]})")
            position = placeholder.end()
        parts.append(self._literal(template, template[position:]))
        self.regex = re.compile("".join(parts))

    @staticmethod
    def _literal(template: str, text: str) -> str:
        if "{" in text or "}" in text:
            raise ValueError(f"path template {template!r}: stray brace in {text!r}; placeholders look like {{name}}")
        return re.escape(text)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        return None if found is None else found.groupdict()


def json_mismatch(expected: object, actual: object, where: str = "$") -> str | None:
    """None when `actual` contains `expected` (partial for objects), else where and why not."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing"
            reason = json_mismatch(value, actual[key], f"{where}.{key}")
            if reason:
                return reason
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: expected a list of {len(expected)}, got {actual!r}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            reason = json_mismatch(want, got, f"{where}[{index}]")
            if reason:
                return reason
        return None
    if isinstance(expected, re.Pattern) or callable(expected):
        if isinstance(expected, re.Pattern):
            matched = isinstance(actual, str) and expected.fullmatch(actual) is not None
        else:
            matched = bool(expected(actual))
        return None if matched else f"{where}: expected {describe_expected(expected)}, got {actual!r}"
    if type(expected) is not type(actual) and {type(expected), type(actual)} & {bool}:
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None if expected == actual else f"{where}: expected {expected!r}, got {actual!r}"


def accepted_media_types(accept: str) -> list[str]:
    """The media types an Accept header lists, parameters (q=...) dropped, lower-case."""
    return [item.split(";", 1)[0].strip().lower() for item in accept.split(",") if item.strip()]


class Miss(NamedTuple):
    """Why a route did not take a request; a higher `stage` got further, so is a closer miss."""

    stage: int
    reason: str


@dataclass
class RequestMatcher:
    """Everything a route asks of a request; `check` tests them cheapest first."""

    method: str
    path: PathTemplate
    query: Mapping[str, QueryExpected] | None = None
    headers: Mapping[str, Expected] | None = None
    json: object = NOT_GIVEN
    body: bytes | str | None = None
    accept: str | None = None

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if not _METHOD.fullmatch(self.method):
            raise ValueError(f"bad HTTP method {self.method!r}: use a token such as GET, POST, or '*' for any")
        if self.headers is not None:
            self.headers = {name.lower(): value for name, value in self.headers.items()}
        if self.accept is not None:
            self.accept = self.accept.lower()

    def check(self, request: StubRequest) -> dict[str, str] | Miss:
        """The path parameters when `request` is for this route, otherwise the first Miss."""
        if self.method != "*" and request.method != self.method:
            return Miss(0, f"method {request.method} is not {self.method}")
        params = self.path.match(request.path)
        if params is None:
            return Miss(1, f"path {request.path!r} does not match {self.path.text!r}")
        if self.accept is not None:
            offered = accepted_media_types(request.headers.get("accept", ""))
            if self.accept not in offered:
                return Miss(2, f"accept {request.headers.get('accept')!r} does not list {self.accept!r}")
        for name, expected in (self.headers or {}).items():
            actual = request.headers.get(name)
            if actual is None or not value_matches(expected, actual):
                return Miss(3, f"header {name!r}: expected {describe_expected(expected)}, got {actual!r}")
        for name, wanted in (self.query or {}).items():
            reason = _query_mismatch(name, wanted, request.query.get(name))
            if reason:
                return Miss(4, reason)
        if self.json is not NOT_GIVEN:
            actual_json = request.json_body
            if actual_json is NOT_JSON:
                return Miss(5, f"body is not JSON: {request.body[:60]!r}")
            reason = json_mismatch(self.json, actual_json)
            if reason:
                return Miss(5, f"json body {reason}")
        if self.body is not None:
            wanted = self.body.encode() if isinstance(self.body, str) else self.body
            if request.body != wanted:
                return Miss(6, f"body {request.body[:60]!r} is not {wanted[:60]!r}")
        return params


def _query_mismatch(name: str, expected: QueryExpected, actual: list[str] | None) -> str | None:
    if actual is None:
        return f"query {name!r}: missing"
    if isinstance(expected, (list, tuple)):
        if len(expected) == len(actual) and all(value_matches(e, a) for e, a in zip(expected, actual, strict=True)):
            return None
        return f"query {name!r}: expected {[describe_expected(e) for e in expected]}, got {actual}"
    if value_matches(expected, actual[0]):
        return None
    return f"query {name!r}: expected {describe_expected(expected)}, got {actual[0]!r}"
