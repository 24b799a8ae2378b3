"""The same `HttpStub` definitions as WireMock mappings, so a stub can be served from a container.

`wiremock_mappings(stub)` translates routes (in order: earlier routes win, as in `HttpStub`),
their replies, reply sequences, stub-wide and route faults. What WireMock can express is translated
exactly; what it cannot raises `WireMockUnsupported`, naming the route and the feature, instead of
serving something subtly different. Not expressible:

- faults with ``probability`` below 1 or with ``times`` (WireMock's faults always fire), and so
  their ``seed``;
- ``hang`` (WireMock always answers eventually), ``close_before_headers``, ``truncated`` and
  ``bandwidth`` (no such faults);
- ``random_bytes`` with a ``size`` other than the default (WireMock picks the length);
- a capped lognormal latency (``maximum``), or two random latencies on one route.

A dribble becomes WireMock's chunked dribble of the body, in as many chunks as the stub would send
the body in (WireMock sends the head at once).
- predicates (callables) in header, query or JSON matchers, ``respond_with`` callbacks, auth
  (``require_bearer``/``require_basic``: the 401-versus-403 answers), user scenarios and a
  stub-level ``json_transform``.

Fake JSON bodies (`fake_json`) are generated once, at translation: WireMock serves that document
every time. Requests no route takes get WireMock's own 404 (without the stub-wide faults).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..faults.layers.stub import ArmedFault, status_response
from ..faults.vocabulary import Dribble, EmptyResponse, Latency, MalformedResponse, RandomBytes, Reset, Status
from .matchers import NOT_GIVEN, RequestMatcher
from .responses import Reply
from .routes import Route
from .server import HttpStub

# WireMock's names for the faults it has, keyed by ours.
WIREMOCK_FAULTS: dict[type, str] = {
    Reset: "CONNECTION_RESET_BY_PEER",
    EmptyResponse: "EMPTY_RESPONSE",
    MalformedResponse: "MALFORMED_RESPONSE_CHUNK",
    RandomBytes: "RANDOM_DATA_THEN_CLOSE",
}
DEFAULT_RANDOM_BYTES = RandomBytes().size
_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class WireMockUnsupported(ValueError):
    """A stub definition WireMock cannot serve faithfully; the message names the route and why."""


def wiremock_mappings(stub: HttpStub) -> list[dict[str, Any]]:
    """Every route of `stub` as WireMock mappings (a route with N replies becomes N mappings)."""
    if stub.auth is not None:
        raise WireMockUnsupported("stub-wide auth (require_bearer/require_basic) has no WireMock mapping")
    if stub.json_transform is not None:
        raise WireMockUnsupported("a stub-wide json_transform runs Python per request; WireMock cannot")
    mappings: list[dict[str, Any]] = []
    for priority, route in enumerate(stub.routes, start=1):
        mappings.extend(_route_mappings(route, stub.faults, priority))
    return mappings


def _route_mappings(route: Route, stub_faults: Sequence[ArmedFault], priority: int) -> list[dict[str, Any]]:
    def unsupported(what: str) -> WireMockUnsupported:
        return WireMockUnsupported(f"route {route.name!r}: {what}")

    if route.auth is not None:
        raise unsupported("auth (require_bearer/require_basic) has no WireMock mapping")
    if route.scenario is not None:
        raise unsupported("user scenarios are not translated")
    replies = route.replies or [Reply()]
    if not all(isinstance(reply, Reply) for reply in replies):
        raise unsupported("respond_with callbacks run Python per request; WireMock cannot")
    request = _request(route.matcher, unsupported)
    faults = [*stub_faults, *route.faults]
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
    """One reply with the faults applied in order, as `HttpStub` applies them."""
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
            break  # the body is sent; later faults never run
        elif type(fault) in WIREMOCK_FAULTS:
            if isinstance(fault, RandomBytes) and fault.size != DEFAULT_RANDOM_BYTES:
                raise unsupported(f"random_bytes with size={fault.size}: WireMock picks the length")
            response["fault"] = WIREMOCK_FAULTS[type(fault)]
            break  # the connection is gone; later faults never run
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


__all__ = ["WIREMOCK_FAULTS", "WireMockUnsupported", "wiremock_mappings"]
