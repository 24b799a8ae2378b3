"""The stub's view of one request: the core's parsed request plus the lookups matchers need."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qs

from pytest_ipc._http import Request

NOT_JSON = object()


@dataclass
class StubRequest:
    """One request as routes, callbacks and the journal see it (header names lower-case)."""

    method: str
    target: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    params: dict[str, str] = field(default_factory=dict)  # path template parameters, once matched
    client_subject: str | None = None  # RFC 4514 subject of the client's TLS certificate (HTTPS stub), if sent

    @classmethod
    def from_core(cls, request: Request) -> StubRequest:
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return cls(
            request.method, request.target, request.path, headers, request.body, request.received_at,
            client_subject=request.client_subject,
        )

    @cached_property
    def query(self) -> dict[str, list[str]]:
        """Query parameters, each with every value it was given, in order."""
        raw = self.target.split("?", 1)[1] if "?" in self.target else ""
        return parse_qs(raw, keep_blank_values=True)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @cached_property
    def json_body(self) -> object:
        """The body decoded as JSON, or `NOT_JSON` (decoded once, however many routes look)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return NOT_JSON

    def json(self) -> object:
        """The body decoded as JSON; raises ValueError when it is not JSON."""
        if self.json_body is NOT_JSON:
            raise ValueError(f"{self.describe()}: body is not JSON: {self.body[:80]!r}")
        return self.json_body

    def describe(self) -> str:
        return f"{self.method} {self.target}"
