"""What a route answers: a status, headers and one body (JSON, text, bytes or a Faker template)."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import cast

from pytest_ipc._http import Response
from pytest_ipc.stub.fake import FakeJson
from pytest_ipc.stub.matchers import NOT_GIVEN

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
JsonTransform = Callable[[object], object]


def header_pairs(headers: Headers | None) -> tuple[tuple[str, str], ...]:
    if headers is None:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), str(value)) for name, value in items)


def check_status(status: int) -> int:
    """A final response's status; 1xx are not final and h11 refuses anything outside 200-599."""
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise ValueError(f"response status must be an int from 200 to 599, got {status!r}")
    return status


@dataclass(frozen=True)
class Reply:
    """One canned answer. Give at most one of `json`, `text`, `body`; none means an empty body."""

    status: int = 200
    json: object = NOT_GIVEN
    text: str | None = None
    body: bytes | None = None
    headers: Headers = ()
    content_type: str | None = None

    def __post_init__(self) -> None:
        check_status(self.status)
        bodies = (("json", self.json is not NOT_GIVEN), ("text", self.text is not None), ("body", self.body is not None))
        given = [name for name, value in bodies if value]
        if len(given) > 1:
            raise ValueError(f"a reply has one body; got {' and '.join(given)}")
        if self.json is not NOT_GIVEN and not isinstance(self.json, FakeJson):
            jsonlib.dumps(self.json)  # fail now, in the test, not later on the stub's thread
        object.__setattr__(self, "headers", header_pairs(self.headers))

    @classmethod
    def build(cls, reply: Reply | Mapping[str, object]) -> Reply:
        """A Reply from itself or from the keyword arguments `respond` takes, as a dict."""
        if isinstance(reply, Reply):
            return reply
        if isinstance(reply, Mapping):
            allowed = [f.name for f in fields(cls)]
            unknown = sorted(set(reply) - set(allowed))
            if unknown:
                raise ValueError(f"unknown reply argument(s) {', '.join(unknown)}; a reply takes: {', '.join(allowed)}")
            return cls(**reply)  # type: ignore[arg-type]  # checked against the fields above
        raise TypeError(f"expected a Reply or a dict of respond() arguments, got {reply!r}")

    def render(self, json_transform: JsonTransform | None = None, default_json_type: str = "application/json") -> Response:
        headers = list(cast(tuple[tuple[str, str], ...], self.headers))  # normalised by __post_init__
        content_type: str | None
        has_type = any(name.lower() == "content-type" for name, _ in headers)
        if self.json is not NOT_GIVEN:
            document = self.json.generate() if isinstance(self.json, FakeJson) else self.json
            if json_transform is not None:
                document = json_transform(document)
            payload = jsonlib.dumps(document, separators=(",", ":")).encode()
            content_type = self.content_type or default_json_type
        elif self.text is not None:
            payload = self.text.encode()
            content_type = self.content_type or "text/plain; charset=utf-8"
        else:
            payload = self.body or b""
            content_type = self.content_type or ("application/octet-stream" if payload else None)
        if content_type and not has_type:
            headers.append(("content-type", content_type))
        return Response(self.status, payload, headers)
