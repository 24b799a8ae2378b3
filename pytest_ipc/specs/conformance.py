"""Provider conformance: a provider checked against its OpenAPI document, one operation at a time.

The one owner of that concept; schemathesis is the engine. Collection reads the document with
`load_document` and lists its operations without schemathesis or hypothesis (the plugin imports
this module in every session). An item's `verify` loads them, generates requests for its one
operation (the document's examples, schemathesis's coverage phase of boundary and invalid values,
then random positive and negative ones, from a fixed seed), sends them to the provider (a base URL,
or an ASGI or WSGI app in-process) and runs the checks on every response. The first failure,
shrunk to its smallest request, becomes a `ConformanceError` naming the operation, the check, the
request (with a curl line) and the response, and saying what to do.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc._optional import require
from pytest_ipc.contracts.errors import ProviderUnreachable
from pytest_ipc.specs.document import ApiDocument, SpecError

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiSchema

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CHECKS: dict[str, str] = {
    "not_a_server_error": (
        "the provider crashed on this request: handle it, answering a 4xx for input the document forbids "
        "and a documented status otherwise"
    ),
    "status_code_conformance": "document this status code under the operation's `responses`, or stop returning it",
    "content_type_conformance": "answer with a media type the operation documents for this status, or document this one",
    "response_headers_conformance": "send the headers the document requires for this status, with values their schemas allow",
    "response_schema_conformance": "make the response body match the documented schema, or correct the schema if the body is right",
    "negative_data_rejection": (
        "the provider accepted a request the document forbids: validate this input and answer a 4xx, "
        "or relax the document if the input is in fact valid"
    ),
    "positive_data_acceptance": "the provider rejected a request the document allows: accept it, or tighten the document",
}
"""The checks `verify(checks=...)` can run on each response (schemathesis's), and what to do when one fails."""
DEFAULT_CHECKS = tuple(name for name in CHECKS if name != "positive_data_acceptance")
"""Every check but positive_data_acceptance: a valid request for an id that does not exist is rightly a 404."""
MODES = ("positive", "negative")
"""Valid input (the provider must answer as documented) and invalid input (it must answer a 4xx)."""
DEFAULT_MAX_EXAMPLES = 25
"""Random requests per operation unless `--ipc-openapi-max-examples` or `verify(max_examples=)` say otherwise."""
DEFAULT_SEED = 0
"""The seed unless `--ipc-openapi-seed` or `verify(seed=)` say otherwise."""
DEFAULT_REQUEST_TIMEOUT = 5.0
_SHOWN_BODY = 600  # characters of a request or response body a failure message shows


class ConformanceError(IpcAssertionError):
    """A provider broke its OpenAPI document: `operation`, the failed `checks`, and the evidence."""

    def __init__(self, message: str, operation: str, checks: Sequence[str]) -> None:
        super().__init__(message)
        self.operation = operation
        self.checks = tuple(checks)


@dataclass(frozen=True, eq=False)
class OperationRef:
    """One operation of a document, as collection sees it (no schemathesis needed)."""

    document: ApiDocument
    method: str  # upper case
    path: str
    operation_id: str | None

    @property
    def label(self) -> str:
        """"GET /pets/{petId}": the method and the path template, as the document writes it."""
        return f"{self.method} {self.path}"


def operations_of(document: ApiDocument, wanted: Sequence[str] | None = None) -> list[OperationRef]:
    """The operations of an OpenAPI document, in document order, or those `wanted` names (labels
    such as "GET /pets" or operationIds). Anything else is a `SpecError` naming the valid choices."""
    if document.kind != "openapi":
        raise SpecError(f"{document.source} is an AsyncAPI document; provider conformance needs an OpenAPI 3.0 or 3.1 document")
    paths = document.raw.get("paths") or {}
    found = [
        OperationRef(document, method.upper(), str(path), _operation_id(operation))
        for path, item in paths.items()
        for method, operation in (document.resolve(item) or {}).items()
        if method in METHODS and isinstance(operation, Mapping)
    ]
    if not found:
        raise SpecError(f"{document.source} declares no operation under `paths`: nothing to verify; add the provider's operations")
    if wanted is None:
        return found
    names = {name: ref for ref in found for name in _names_of(ref)}
    unknown = [name for name in wanted if _normalised(name) not in names]
    if unknown:
        valid = ", ".join(ref.label + (f" ({ref.operation_id})" if ref.operation_id else "") for ref in found)
        raise SpecError(f"{document.source} has no operation {', '.join(map(repr, unknown))}; it has: {valid}")
    chosen = {id(names[_normalised(name)]) for name in wanted}
    return [ref for ref in found if id(ref) in chosen]


def _operation_id(operation: Mapping[str, Any]) -> str | None:
    value = operation.get("operationId")
    return str(value) if value else None


def _names_of(ref: OperationRef) -> list[str]:
    return [_normalised(ref.label), *([ref.operation_id] if ref.operation_id else [])]


def _normalised(name: str) -> str:
    method, _, path = name.strip().partition(" ")
    return f"{method.upper()} {path.strip()}" if path and method.lower() in METHODS else name.strip()


@dataclass(frozen=True)
class ConformanceResult:
    """What one verification sent: requests in all, and how many of them carried invalid input."""

    operation: str
    requests: int
    negative_requests: int
    checks: tuple[str, ...]


@dataclass
class SchemaCache:
    """The schemathesis schema of each document and generation modes, loaded once per process."""

    _schemas: dict[tuple[int, tuple[str, ...]], tuple[ApiDocument, OpenApiSchema]] = field(default_factory=dict)

    def schema(self, document: ApiDocument, modes: tuple[str, ...]) -> OpenApiSchema:
        key = (id(document), modes)
        cached = self._schemas.get(key)
        if cached is None or cached[0] is not document:
            cached = self._schemas[key] = (document, _load_schema(document, modes))
        return cached[1]


def _load_schema(document: ApiDocument, modes: tuple[str, ...]) -> OpenApiSchema:
    """Our already-parsed document handed to schemathesis with a configuration of its own (no
    schemathesis.toml is read: a run depends on the test alone)."""
    require("schemathesis", extra="openapi", feature="provider conformance")
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.core.errors import LoaderError

    config = SchemathesisConfig.from_dict({
        "generation": {"mode": modes[0] if len(modes) == 1 else "all", "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {"stateful": {"enabled": False}, "coverage": {"unexpected-methods": []}},
    })
    try:
        schema = schemathesis.openapi.from_dict(copy.deepcopy(dict(document.raw)), config=config)
    except LoaderError as error:
        raise SpecError(f"{document.source}: schemathesis cannot use this document: {error}") from error
    if not document.source.startswith("<"):
        schema.location = Path(document.source).as_uri()  # `$ref`s into files beside it resolve from there
    return schema


class ProviderOperation:
    """The `openapi_operation` fixture's value: one operation of an OpenAPI document, to verify
    against a provider (`verify`, or `await operation.aio.verify(...)` in an async test)."""

    def __init__(
        self, ref: OperationRef, *, base_url: str | None = None, max_examples: int | None = None,
        seed: int | None = None, schemas: SchemaCache | None = None,
    ) -> None:
        self.ref = ref
        self._base_url = base_url
        self._max_examples = DEFAULT_MAX_EXAMPLES if max_examples is None else max_examples
        self._seed = DEFAULT_SEED if seed is None else seed
        self._schemas = schemas or SchemaCache()
        self.aio = AsyncProviderOperation(self)

    @property
    def label(self) -> str:
        """"GET /pets/{petId}"."""
        return self.ref.label

    @property
    def operation_id(self) -> str | None:
        """The document's operationId for the operation, if it gives one."""
        return self.ref.operation_id

    def __repr__(self) -> str:
        return f"<ProviderOperation {self.label} of {self.ref.document.title}>"

    def verify(
        self,
        base_url: str | None = None,
        *,
        app: object | None = None,
        headers: Mapping[str, str] | None = None,
        checks: Sequence[str] = DEFAULT_CHECKS,
        modes: Sequence[str] = MODES,
        max_examples: int | None = None,
        seed: int | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> ConformanceResult:
        """Send generated requests for this operation to the provider and check every response.

        The provider is `app` (an ASGI or WSGI application, called in-process) or the server at
        `base_url` (default: the `--ipc-openapi-provider-url` setting), which includes any prefix
        the document's `servers` put before its paths. `headers` go with every request
        (authentication); `checks` names the checks to run (see `CHECKS`), `modes` whether to send
        valid ("positive") and invalid ("negative") input. `max_examples` bounds the random
        requests (the document's examples and the coverage phase's boundary values come on top),
        `seed` fixes which ones. Raises `ConformanceError` on the first check that fails (its
        request shrunk to the smallest that still fails), `ProviderUnreachable` if nothing answers
        at `base_url`; returns what was sent otherwise.
        """
        __tracebackhide__ = True  # a failure shows the test's call and the message, not this machinery
        chosen_checks = _choices("check", checks, tuple(CHECKS))
        chosen_modes = _choices("mode", modes, MODES)
        if app is not None and base_url is not None:
            raise IpcUsageError(f"{self.label}: pass the provider as base_url= or as app=, not both")
        target = base_url or (None if app is not None else self._base_url)
        if app is None and not target:
            raise IpcUsageError(
                f"{self.label}: no provider to verify: pass base_url='http://host:port' or app=<ASGI or WSGI app>, "
                "or set --ipc-openapi-provider-url"
            )
        examples = self._max_examples if max_examples is None else max_examples
        if examples < 1:
            raise IpcUsageError(f"{self.label}: max_examples is a whole number from 1, got {examples!r}")
        if target is not None:
            _probe(self.label, target)
        with _hypothesis_isolated():
            run = _Run(
                ref=self.ref,
                schema=self._schemas.schema(self.ref.document, chosen_modes),
                base_url=target,
                app=app,
                headers=dict(headers or {}),
                checks=chosen_checks,
                request_timeout=request_timeout,
            )
            return run.execute(examples, self._seed if seed is None else seed)


class AsyncProviderOperation:
    """`operation.aio`: `verify` as a coroutine, for async tests (it runs in a worker thread)."""

    def __init__(self, operation: ProviderOperation) -> None:
        self._operation = operation

    async def verify(self, base_url: str | None = None, **options: Any) -> ConformanceResult:
        """`ProviderOperation.verify`, without blocking the event loop."""
        import functools

        import anyio.to_thread

        return await anyio.to_thread.run_sync(functools.partial(self._operation.verify, base_url, **options))


def _choices(kind: str, given: Sequence[str], valid: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(given, str):
        given = [given]
    unknown = [name for name in given if name not in valid]
    if unknown or not given:
        raise IpcUsageError(f"unknown {kind} {', '.join(map(repr, unknown)) or '(none given)'}; choose from: {', '.join(valid)}")
    return tuple(name for name in valid if name in given)


def _probe(label: str, base_url: str) -> None:
    """Nothing listening is a provider that is down, not one that breaks its document."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IpcUsageError(f"{label}: the provider's base URL must be http://host:port[/prefix] or https://..., got {base_url!r}")
    ProviderUnreachable.probe(base_url, f"it listening there to verify {label}")


@dataclass
class _Observed:
    """One request that failed checks, and what came back."""

    case: Any
    response: Any  # None when no response came back (the app raised, the connection broke)
    failures: list[tuple[str, str, str]]  # (check, title, details)
    curl: str


class _Nonconforming(AssertionError):
    """Raised inside the hypothesis test so it shrinks the request; carries what was observed."""

    def __init__(self, observed: _Observed) -> None:
        super().__init__(", ".join(name for name, _, _ in observed.failures))
        self.observed = observed


@dataclass
class _Run:
    ref: OperationRef
    schema: OpenApiSchema
    base_url: str | None
    app: object | None
    headers: dict[str, str]
    checks: tuple[str, ...]
    request_timeout: float
    requests: int = 0
    negative_requests: int = 0

    def execute(self, max_examples: int, seed: int) -> ConformanceResult:
        __tracebackhide__ = True
        import hypothesis
        import hypothesis.errors
        import schemathesis.checks
        from schemathesis.generation import derive_operation_seed
        from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test

        operation = self._operation()
        functions = [(name, getattr(schemathesis.checks, name)) for name in self.checks]
        settings = hypothesis.settings(
            hypothesis.settings.get_profile("default"),  # a user's own hypothesis profile does not change this run
            max_examples=max_examples,
            database=None,
            deadline=None,
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
            verbosity=hypothesis.Verbosity.quiet,
        )
        project = self.schema.config
        test = create_test(
            operation=operation,
            test_func=lambda case: self._one(case, functions),
            config=HypothesisTestConfig(
                project=project,
                modes=[HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING],
                settings=settings,
                apply_ci_profile=False,
                seed=derive_operation_seed(seed, operation.label),
            ),
        )
        try:
            with self._in_process_app():
                test()
        except _Nonconforming as error:
            raise ConformanceError(
                _describe(self.ref, error.observed, self.app), self.ref.label, [name for name, _, _ in error.observed.failures]
            ) from None
        except hypothesis.errors.FlakyFailure as group:  # the failing request passed when it was sent again
            observed = next((error.observed for error in group.exceptions if isinstance(error, _Nonconforming)), None)
            if observed is None:
                raise
            message = _describe(self.ref, observed, self.app) + (
                "\nthe same request got a conforming answer when it was sent again: the provider's answer depends on "
                "earlier requests or on time (state left behind, a rate limit, a cache)"
            )
            raise ConformanceError(message, self.ref.label, [name for name, _, _ in observed.failures]) from None
        if self.requests == 0:
            raise ConformanceError(
                f"{self.ref.label}: expected at least one request to verify, sent none (schemathesis generated no input "
                f"for it from {self.ref.document.source}); check the operation's parameters and request body schemas",
                self.ref.label, [],
            )
        return ConformanceResult(self.ref.label, self.requests, self.negative_requests, self.checks)

    def _operation(self) -> Any:
        from schemathesis.core.errors import InvalidSchema

        try:
            return self.schema[self.ref.path][self.ref.method]
        except (KeyError, InvalidSchema) as error:
            raise SpecError(f"{self.ref.document.source}: schemathesis cannot read {self.ref.label}: {error}") from error

    def _one(self, case: Any, functions: list[tuple[str, Callable[..., Any]]]) -> None:
        """Send one generated request and run every check on its response."""
        from schemathesis.core.errors import IncorrectUsage
        from schemathesis.core.failures import FailureGroup

        kwargs: dict[str, Any] = {"headers": self.headers or None}
        if self.app is not None:
            kwargs["app"] = self.app
        else:
            kwargs["base_url"] = self.base_url
            kwargs["timeout"] = self.request_timeout
        self.requests += 1
        if case.meta is not None and case.meta.generation.mode.is_negative:
            self.negative_requests += 1
        try:
            response = case.call(**kwargs)
        except IncorrectUsage:
            raise
        except Exception as error:  # the in-process app raised, or the provider dropped the connection
            curl = case.as_curl_command(headers=self.headers or None, base_url=self.base_url)
            title = "the app raised an exception" if self.app is not None else "no response came back"
            frames = traceback.extract_tb(error.__traceback__)
            detail = f"{type(error).__name__}: {error}"
            if frames:
                detail += f"\nraised at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"
            raise _Nonconforming(_Observed(case, None, [("not_a_server_error", title, detail)], curl)) from None
        failures: list[tuple[str, str, str]] = []
        for name, function in functions:
            try:
                case.validate_response(response, checks=[function], headers=self.headers or None, transport_kwargs=kwargs)
            except FailureGroup as group:
                failures.extend((name, failure.title, str(failure.message)) for failure in group.exceptions)
        if failures:
            curl = case.as_curl_command(headers=dict(response.request.headers), verify=response.verify, base_url=self.base_url)
            raise _Nonconforming(_Observed(case, response, failures, curl))

    def _in_process_app(self) -> Any:
        """An ASGI app runs on schemathesis's event-loop thread, lifespan included: both end with the run."""
        from schemathesis.transport import is_asgi_app

        if self.app is None or not is_asgi_app(self.app):
            return contextlib.nullcontext()
        from schemathesis.python import asgi

        @contextlib.contextmanager
        def scope() -> Iterator[None]:
            try:
                yield
            finally:
                asgi._shutdown()

        return scope()


@contextlib.contextmanager
def _hypothesis_isolated() -> Iterator[None]:
    """For the duration of a run: hypothesis draws no constants from the project's own modules (which
    ones are loaded differs between sessions and xdist workers, so the same seed would not send the
    same requests; collecting them also parses every module) and keeps its caches in a temporary
    directory, not ./.hypothesis. Both settings are restored after the run."""
    require("schemathesis", extra="openapi", feature="provider conformance")  # brings hypothesis
    from hypothesis import configuration
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    previous_home = vars(configuration).get("__hypothesis_home_directory")
    previous_constants = getattr(providers, "_get_local_constants", None)
    with tempfile.TemporaryDirectory(prefix="pytest-ipc-hypothesis-") as scratch:
        configuration.set_hypothesis_home_dir(scratch)
        if previous_constants is not None:
            providers._get_local_constants = Constants
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous_home)
            if previous_constants is not None:
                providers._get_local_constants = previous_constants


def _describe(ref: OperationRef, observed: _Observed, app: object | None) -> str:
    """The failure message: operation and checks, what each found, the request, the response, what to do."""
    from schemathesis.core import NOT_SET

    names = list(dict.fromkeys(name for name, _, _ in observed.failures))
    lines = [f"{ref.label} does not conform to {ref.document.title} ({ref.document.source}): check {', '.join(names)} failed"]
    for name, title, details in observed.failures:
        lines.append(f"  - {name}: {title}")
        lines += [f"      {line}" for line in details.strip().splitlines() if line.strip()]
    case, response = observed.case, observed.response
    in_process = " (sent to the app in-process)" if app is not None else ""
    if response is None:
        lines.append(f"request ({_kind_of(case)}): {case.method} {case.formatted_path}{in_process}")
        if case.body is not NOT_SET:
            lines.append(f"  body: {_shown(repr(case.body))}")
    else:
        lines.append(f"request ({_kind_of(case)}): {response.request.method} {response.request.url}{in_process}")
        if response.request.body:
            lines.append(f"  body: {_shown(response.request.body)}")
    lines.append("  reproduce: " + observed.curl.replace("\n", "\n  "))
    if response is not None:
        lines.append(f"response: {response.status_code} {response.message or http.client.responses.get(response.status_code, '')}".rstrip())
        content_type = response.headers.get("content-type")
        if content_type:
            lines.append(f"  content-type: {', '.join(content_type)}")
        lines.append(f"  body: {_shown(response.content) if response.content else '(empty)'}")
    lines.append("what to do: " + "; ".join(CHECKS[name] for name in names))
    return "\n".join(lines)


def _kind_of(case: Any) -> str:
    meta = case.meta
    if meta is None:
        return "explicit"
    mode = "invalid input" if meta.generation.mode.is_negative else "valid input"
    phase = str(meta.phase.name.value)
    description = getattr(meta.phase.data, "description", None)
    return f"{mode}, {phase} phase" + (f": {description}" if description else "")


def _shown(body: bytes | str) -> str:
    text = body.decode("utf-8", "backslashreplace") if isinstance(body, bytes) else str(body)
    return text if len(text) <= _SHOWN_BODY else f"{text[:_SHOWN_BODY]}... ({len(text)} characters)"
