"""WireMock as a server of `HttpStub`: its definitions as WireMock mappings, WireMock's journal as the stub's.

`WireMockServer` is the `StubServer` behind `HttpStub.on_wiremock(url)` (and the stub's ``container``
and ``external`` backends): each change of the definitions is published as the whole set of
mappings, the journal is read back from WireMock's request journal (which route took a request,
the faults it got, why the closest routes missed an unmatched one, by the stub's own matchers),
and each test starts from a reset WireMock. One port serves every test: a late request of an
ended test cannot be told from the next test's, and connections are not closed between tests.

`wiremock_mappings(stub)` translates routes (in order: earlier routes win, as in `HttpStub`),
their replies, reply sequences, stub-wide and route faults. What WireMock can express is translated
exactly; what it cannot raises `WireMockUnsupported`, naming the route and the feature, instead of
serving something subtly different. Not expressible:

- faults with ``probability`` below 1 or with ``times`` (WireMock's faults always fire), and so
  their ``seed``;
- ``hang`` (WireMock always answers eventually), ``close_before_headers``, ``truncated`` and
  ``bandwidth`` (no such faults);
- ``random_bytes`` with a ``size`` other than the default (WireMock picks the length);
- a capped lognormal latency (``maximum``), or two random latencies on one route;
- predicates (callables) in header, query or JSON matchers, ``respond_with`` callbacks, auth
  (``require_bearer``/``require_basic``/``require_jwt``: the 401-versus-403 answers), the token
  issuer (``token_issuer``: it signs per request), user scenarios and a stub-level ``json_transform``.

A dribble becomes WireMock's chunked dribble of the body, in as many chunks as the stub would send
the body in (WireMock sends the head at once).

Fake JSON bodies (`fake_json`) are generated once, at translation: WireMock serves that document
every time. Requests no route takes get WireMock's own 404 (without the stub-wide faults).
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from pytest_ipc._errors import IpcError, IpcUsageError
from pytest_ipc._http import Request
from pytest_ipc.faults.layers.stub import ArmedFault, status_response
from pytest_ipc.faults.vocabulary import Dribble, EmptyResponse, Latency, MalformedResponse, RandomBytes, Reset, Status
from pytest_ipc.stub.attached import AttachedServer
from pytest_ipc.stub.journal import JournalEntry
from pytest_ipc.stub.matchers import NOT_GIVEN, RequestMatcher
from pytest_ipc.stub.request import StubRequest
from pytest_ipc.stub.responses import Reply
from pytest_ipc.stub.routes import Route

if TYPE_CHECKING:
    from pytest_ipc.stub.server import HttpStub

# WireMock's names for the faults it has, keyed by ours.
WIREMOCK_FAULTS: dict[type, str] = {
    Reset: "CONNECTION_RESET_BY_PEER",
    EmptyResponse: "EMPTY_RESPONSE",
    MalformedResponse: "MALFORMED_RESPONSE_CHUNK",
    RandomBytes: "RANDOM_DATA_THEN_CLOSE",
}
DEFAULT_RANDOM_BYTES = RandomBytes().size
_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class WireMockUnsupported(IpcUsageError):
    """A stub definition WireMock cannot serve faithfully; the message names the route and why."""


class WireMockError(IpcError):
    """WireMock's admin API did not answer, or refused what it was sent; the message says which call."""


def wiremock_mappings(stub: HttpStub) -> list[dict[str, Any]]:
    """Every route of `stub` as WireMock mappings (a route with N replies becomes N mappings)."""
    return [mapping for _route, mappings, _applied in _translated(stub) for mapping in mappings]


def _translated(stub: HttpStub) -> list[tuple[Route, list[dict[str, Any]], list[ArmedFault]]]:
    """Each route, its mappings, and the faults a request it takes gets (stub-wide ones first)."""
    if stub.auth is not None:
        raise WireMockUnsupported("stub-wide auth (require_bearer/require_basic) has no WireMock mapping")
    if stub.json_transform is not None:
        raise WireMockUnsupported("a stub-wide json_transform runs Python per request; WireMock cannot")
    _response(Reply(), _applied(stub.faults), None, lambda what: WireMockUnsupported(f"stub-wide fault {what}"))  # even with no route yet
    translated = []
    for priority, route in enumerate(stub.routes, start=1):
        applied = _applied([*stub.faults, *route.faults])
        translated.append((route, _route_mappings(route, applied, priority), applied))
    return translated


def _applied(faults: Sequence[ArmedFault]) -> list[ArmedFault]:
    """The faults that act on a response, in order: none after one that sends the body or breaks the
    connection (a dribble, WireMock's connection faults)."""
    for index, armed in enumerate(faults):
        if isinstance(armed.fault, Dribble) or type(armed.fault) in WIREMOCK_FAULTS:
            return list(faults[: index + 1])
    return list(faults)


def _route_mappings(route: Route, faults: Sequence[ArmedFault], priority: int) -> list[dict[str, Any]]:
    def unsupported(what: str) -> WireMockUnsupported:
        return WireMockUnsupported(f"route {route.name!r}: {what}")

    if route.needs_python is not None:
        raise unsupported(route.needs_python)
    if route.auth is not None:
        raise unsupported("auth (require_bearer/require_basic/require_jwt) has no WireMock mapping")
    if route.scenario is not None:
        raise unsupported("user scenarios are not translated")
    replies = route.replies or [Reply()]
    if not all(isinstance(reply, Reply) for reply in replies):
        raise unsupported("respond_with callbacks run Python per request; WireMock cannot")
    request = _request(route.matcher, unsupported)
    # all Replies (checked above), which all() does not tell mypy
    responses = [_response(reply, faults, route.matcher.accept, unsupported) for reply in replies]  # type: ignore[arg-type]
    if len(responses) == 1:
        return [{"priority": priority, "request": request, "response": responses[0]}]
    # A reply sequence: one mapping per reply, stepping a scenario of the route's own; the last repeats.
    scenario = f"pytest-ipc route {priority}: {route.name}"
    mappings = []
    for index, response in enumerate(responses):
        mapping: dict[str, Any] = {
            "priority": priority,
            "request": request,
            "response": response,
            "scenarioName": scenario,
            "requiredScenarioState": "Started" if index == 0 else f"reply {index + 1}",
        }
        if index + 1 < len(responses):
            mapping["newScenarioState"] = f"reply {index + 2}"
        mappings.append(mapping)
    return mappings


def _request(matcher: RequestMatcher, unsupported: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": "ANY" if matcher.method == "*" else matcher.method,
        # Java has no (?P<name>...) and allows no '_' in group names; the names are not needed here.
        "urlPathPattern": _NAMED_GROUP.sub("(", matcher.path.regex.pattern),
    }
    headers = {name: _value_pattern(expected, f"header {name!r}", unsupported) for name, expected in (matcher.headers or {}).items()}
    if matcher.accept is not None:
        listed = re.escape(matcher.accept)
        headers["accept"] = {"matches": rf"(?i)(.*,)?\s*{listed}\s*(;[^,]*)?(,.*)?"}
    if headers:
        request["headers"] = headers
    if matcher.query:
        request["queryParameters"] = {
            name: _query_pattern(expected, f"query {name!r}", unsupported) for name, expected in matcher.query.items()
        }
    body_patterns = []
    if matcher.json is not NOT_GIVEN:
        _check_plain_json(matcher.json, unsupported)
        body_patterns.append({"equalToJson": matcher.json, "ignoreExtraElements": True})
    if matcher.body is not None:
        raw = matcher.body.encode() if isinstance(matcher.body, str) else matcher.body
        body_patterns.append({"binaryEqualTo": base64.b64encode(raw).decode()})
    if body_patterns:
        request["bodyPatterns"] = body_patterns
    return request


def _value_pattern(expected: object, what: str, unsupported: Any) -> dict[str, Any]:
    if isinstance(expected, re.Pattern):
        return {"matches": _NAMED_GROUP.sub("(", expected.pattern)}
    if callable(expected):
        raise unsupported(f"{what}: a predicate runs Python per request; use a string or re.Pattern")
    if isinstance(expected, bool):
        return {"equalTo": str(expected).lower(), "caseInsensitive": True}
    return {"equalTo": str(expected)}


def _query_pattern(expected: object, what: str, unsupported: Any) -> dict[str, Any]:
    if isinstance(expected, (list, tuple)):
        return {"hasExactly": [_value_pattern(item, what, unsupported) for item in expected]}
    return _value_pattern(expected, what, unsupported)


def _check_plain_json(document: object, unsupported: Any) -> None:
    if isinstance(document, Mapping):
        for value in document.values():
            _check_plain_json(value, unsupported)
    elif isinstance(document, list):
        for value in document:
            _check_plain_json(value, unsupported)
    elif isinstance(document, re.Pattern) or callable(document):
        raise unsupported("patterns or predicates inside a JSON matcher; match literal JSON only")


def _response(reply: Reply, faults: Sequence[ArmedFault], accept: str | None, unsupported: Any) -> dict[str, Any]:
    """One reply with `faults` (see `_applied`) applied in order, as the embedded server applies them."""
    rendered = reply.render(None, accept or "application/json")
    response: dict[str, Any] = {"status": rendered.status}
    headers = list(rendered.headers)
    body = rendered.body
    delays: list[Latency] = []
    for armed in faults:
        fault = armed.fault
        if fault.probability < 1.0 or fault.times is not None:
            raise unsupported(f"{fault.describe()}: WireMock faults always fire")
        if isinstance(fault, Latency):
            delays.append(fault)
        elif isinstance(fault, Status):
            replaced = status_response(fault)
            response["status"], headers, body = replaced.status, list(replaced.headers), replaced.body
        elif isinstance(fault, Dribble):
            response["chunkedDribbleDelay"] = {
                "numberOfChunks": len(fault.plan(b"", body)[1]),
                "totalDuration": round(fault.duration * 1000),
            }
        elif type(fault) in WIREMOCK_FAULTS:
            if isinstance(fault, RandomBytes) and fault.size != DEFAULT_RANDOM_BYTES:
                raise unsupported(f"random_bytes with size={fault.size}: WireMock picks the length")
            response["fault"] = WIREMOCK_FAULTS[type(fault)]
        else:
            raise unsupported(f"{fault.name} has no WireMock equivalent")
    response.update(_delay(delays, unsupported))
    if "fault" not in response:
        if headers:
            response["headers"] = _merged_headers(headers)
        if body:
            response["base64Body"] = base64.b64encode(body).decode()
    return response


def _delay(delays: Sequence[Latency], unsupported: Any) -> dict[str, Any]:
    """WireMock takes one delay per response: fixed delays add up, at most one may be random."""
    fixed_ms = sum(delay.delay for delay in delays if delay.distribution == "fixed") * 1000
    random_delays = [delay for delay in delays if delay.distribution != "fixed"]
    if len(random_delays) > 1:
        raise unsupported("two random delays on one response: WireMock takes one distribution")
    if not random_delays:
        return {"fixedDelayMilliseconds": round(fixed_ms)} if fixed_ms else {}
    delay = random_delays[0]
    if delay.distribution == "uniform":
        lower, upper = delay.low * 1000 + fixed_ms, delay.high * 1000 + fixed_ms
        return {"delayDistribution": {"type": "uniform", "lower": round(lower), "upper": round(upper)}}
    if delay.maximum is not None or fixed_ms:
        raise unsupported("a capped (maximum) or shifted lognormal latency: WireMock's lognormal has neither")
    return {"delayDistribution": {"type": "lognormal", "median": round(delay.median * 1000), "sigma": delay.sigma}}


def _merged_headers(headers: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    merged: dict[str, str | list[str]] = {}
    for name, value in headers:
        if name in merged:
            previous = merged[name]
            merged[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            merged[name] = value
    return merged


class WireMockServer(AttachedServer):
    """Serves an `HttpStub` from the WireMock at `url` (its base URL, admin API under ``/__admin``)."""

    name = "wiremock"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise IpcUsageError(f"{url!r} is not a WireMock base URL; expected http://HOST:PORT")
        self._address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        self._client = httpx.Client(base_url=self.url, timeout=timeout)
        # Every mapping published since the last reset, with its route and the faults its requests get.
        self._mappings: dict[str, tuple[Route, list[ArmedFault]]] = {}
        self._counted: set[str] = set()  # WireMock's ids of the requests whose faults were counted

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    @property
    def idle(self) -> bool:
        return True  # WireMock's requests in flight are its own; a reset drops their record

    def start(self) -> None:
        """Check that a WireMock 3 answers, and reset it: the stub starts from nothing."""
        health = self._call("GET", "/__admin/health")
        try:
            status = health.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if status != "healthy":
            raise WireMockError(f"WireMock at {self.url} answered /__admin/health with {health.text[:200]!r}, expected status healthy")
        self._reset()

    def stop(self) -> None:
        self._client.close()

    def reset(self, forget: Callable[[], None]) -> None:
        self._reset()
        forget()

    def end_test(self, forget: Callable[[], None]) -> None:
        self._stub.test = None
        self.reset(forget)

    def _reset(self) -> None:
        self._call("POST", "/__admin/reset")  # mappings, request journal and scenarios
        self._mappings.clear()
        self._counted.clear()

    def publish(self) -> None:
        """Replace WireMock's mappings with the stub's, in one call (nothing changes on a refusal)."""
        mappings = []
        for route, route_mappings, applied in _translated(self._stub):  # raises WireMockUnsupported first
            for mapping in route_mappings:
                mapping["id"] = str(uuid.uuid4())
                self._mappings[mapping["id"]] = (route, applied)
                mappings.append(mapping)
        options = {"duplicatePolicy": "OVERWRITE", "deleteAllNotInImport": True}
        self._call("POST", "/__admin/mappings/import", {"mappings": mappings, "importOptions": options})

    def refresh(self) -> None:
        """Rebuild the stub's journal from WireMock's, and count the faults of requests new to us."""
        served = self._call("GET", "/__admin/requests").json()["requests"]
        now, wall_now = time.monotonic(), time.time()
        entries = [self._entry(event, now - wall_now) for event in reversed(served)]  # WireMock lists newest first
        self._stub.journal.load(entries, now)

    def _entry(self, event: dict[str, Any], monotonic_offset: float) -> JournalEntry:
        logged = event["request"]
        stub = self._stub
        headers = [
            (name.lower(), value)
            for name, values in logged["headers"].items()
            for value in (values if isinstance(values, list) else [values])
        ]
        body = base64.b64decode(logged.get("bodyAsBase64") or "")
        # WireMock logs whole milliseconds: the end of that millisecond is never before the request arrived,
        # so a call's requests are never taken for an earlier call's (`arrived_since`)
        arrived = (logged["loggedDate"] + 1) / 1000 + monotonic_offset
        request = StubRequest.from_core(Request(logged["method"], logged["url"], headers, body, received_at=arrived))
        entry = JournalEntry(request, request.received_at, test=stub.test)
        total = event.get("timing", {}).get("totalTime")
        if total is not None:  # answered (WireMock lists requests from their arrival)
            entry.ended = entry.started + total / 1000
            response = event.get("response") or {}
            entry.status = None if response.get("fault") else response.get("status")
        if not event.get("wasMatched"):
            entry.unmatched = True
            entry.closest_misses = stub.match(request)[1]
            return entry
        mapping = self._mappings.get(event.get("stubMapping", {}).get("id", ""))
        if mapping is not None:
            entry.route, applied = mapping
            entry.faults = [armed.fault.name for armed in applied]
            if event["id"] not in self._counted:
                self._counted.add(event["id"])
                for armed in applied:
                    armed.fires()  # WireMock's faults always fire (`_response` refuses the others)
        return entry

    def _call(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            reply = self._client.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise WireMockError(f"WireMock at {self.url} did not answer {method} {path}: {error}") from error
        if reply.status_code >= 300:
            raise WireMockError(
                f"WireMock at {self.url} answered {method} {path} with {reply.status_code}, expected 2xx: {reply.text[:500]}"
            )
        return reply


__all__ = ["WIREMOCK_FAULTS", "WireMockError", "WireMockServer", "WireMockUnsupported", "wiremock_mappings"]
