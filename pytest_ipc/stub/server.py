"""`HttpStub`: the HTTP stub a test sets up (routes, faults, journal), whichever server serves it.

The stub owns the definitions and the journal; a `StubServer` makes clients see them. By default
that is `EmbeddedServer` (`stub.embedded`): a real HTTP/1.1 server on loopback in this process,
which starts once and serves a whole session. Each test gets a port of its own
(`begin_test`/`end_test`, which the `http_stub` fixture calls): when a test ends, every connection it
opened is closed, its requests still waiting are cancelled, and its port stays open a while to
answer what its clients still send with 503, recorded in `late_requests` under that test's name,
never in a later test's journal. `HttpStub.on_wiremock(url)` gives the same API served by WireMock
(`stub.wiremock`): each change is published as mappings, the journal is read back from WireMock's.
`reset()` drops what a test configured without changing the port.

Given an `ssl.SSLContext` (`tls=`) the embedded stub serves HTTPS (`url` starts with https://);
`require_client_certificate()` makes one test's stub mutual TLS, and the journal keeps each client
certificate's subject (`entry.request.client_subject`).

Routes are tried in the order they were added; the first that matches answers. A request no route
takes gets 404 and is kept as *unmatched*, with why its closest routes said no.
"""

from __future__ import annotations

import os
import re
import ssl
import traceback
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from pytest_ipc._http import DEFAULT_LIMITS, Limits, Response, plain_error
from pytest_ipc._net import LOOPBACK
from pytest_ipc.faults.layers.stub import ArmedFault, arm
from pytest_ipc.faults.vocabulary import Fault
from pytest_ipc.specs.document import ApiDocument, load_document
from pytest_ipc.stub.auth import Auth, BasicAuth, BearerAuth
from pytest_ipc.stub.embedded import EmbeddedServer
from pytest_ipc.stub.journal import Journal, JournalEntry
from pytest_ipc.stub.matchers import NOT_GIVEN, Expected, Miss, PathTemplate, QueryExpected, RequestMatcher
from pytest_ipc.stub.openapi import OpenApiStub
from pytest_ipc.stub.request import StubRequest
from pytest_ipc.stub.responses import JsonTransform
from pytest_ipc.stub.routes import Route
from pytest_ipc.stub.scenarios import Scenario, scenario_in
from pytest_ipc.stub.tokens import TokenIssuer
from pytest_ipc.stub.wiremock import WireMockServer, WireMockUnsupported
from pytest_ipc.tls.errors import TlsUsageError

if TYPE_CHECKING:
    from pytest_ipc.tls import CertificateAuthority

CLOSEST_MISSES_SHOWN = 3


class StubServer(Protocol):
    """What serves an `HttpStub`'s definitions and fills its journal: in this process, or WireMock.

    `forget` (the stub's reset of its definitions and journal) is called where no request of the
    ending test can still be half-recorded.
    """

    name: str

    def attach(self, stub: HttpStub) -> None:
        """Serve `stub` (once, before `start`)."""

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the current test's clients call."""

    @property
    def idle(self) -> bool:
        """True when no request is being answered."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reset(self, forget: Callable[[], None]) -> None:
        """Drop requests in flight, then `forget`."""

    def end_test(self, forget: Callable[[], None]) -> None:
        """End the stub's current test (`stub.test`, set to None here), then `forget`."""

    def publish(self) -> None:
        """The definitions changed: serve the new ones (raise if this server cannot express them)."""

    def refresh(self) -> None:
        """Bring the stub's journal and fault counts up to date with what the server saw."""


class HttpStub:
    """An HTTP stub; use as a context manager or `start()`/`stop()`.

    What a test configures lives in the attributes below, all cleared by `reset()`. `json_transform`
    is applied to every JSON response body before it is sent (e.g. to add fields a tolerant reader
    must ignore); None sends bodies as configured.

    `HttpStub(host, port)` serves from this process: `limits` bounds what clients may make it hold
    (see `Limits`); `allowed_hosts` are the names, besides IP literals and localhost, that a Host
    header may give (a container reaching the stub by an alias needs that alias here). A fixed
    `port` cannot move between tests: then one port serves every test, connections still close at
    each test's end, but a late request cannot be told from the next test's. `backend` says which
    backend provides the stub ("embedded", "container", "external").
    """

    routes: list[Route]
    faults: list[ArmedFault]
    auth: Auth | None
    scenarios: dict[str, Scenario]
    unmatched_allowed: bool
    tokens: TokenIssuer | None

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        limits: Limits = DEFAULT_LIMITS,
        allowed_hosts: Iterable[str] = (),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._serve_with(EmbeddedServer(host, port, limits=limits, allowed_hosts=allowed_hosts, tls=tls), "embedded", tls)

    @classmethod
    def on_wiremock(cls, url: str, *, timeout: float = 10.0) -> HttpStub:
        """The same API served by the WireMock whose base URL (and admin API) is `url`.

        What WireMock cannot express (hangs, probabilities, callbacks, auth...) raises
        `WireMockUnsupported` when a test asks for it. One port serves every test.
        """
        stub = cls.__new__(cls)
        stub._serve_with(WireMockServer(url, timeout=timeout), "external", None)
        return stub

    def _serve_with(self, server: StubServer, backend: str, tls: ssl.SSLContext | None) -> None:
        self.server = server
        self.backend = backend
        self.tls = tls
        self.tls_authority: CertificateAuthority | None = None  # the CA of `tls`'s certificate: TLS faults issue from it
        self._verify_between_tests = tls.verify_mode if tls is not None else ssl.CERT_NONE
        self.client_certificate_required = False
        self.test: str | None = None  # the node id of the test being served, between begin_test and end_test
        self.journal = Journal()
        self.late_requests: list[JournalEntry] = []  # arrived at an ended test's port; kept for the session
        self.bad_requests: list[str] = []  # requests the HTTP layer refused (garbage, oversize, foreign Host)
        self._json_transform: JsonTransform | None = None
        self._clear()
        server.attach(self)

    def _clear(self) -> None:
        if self.client_certificate_required and self.tls is not None:
            self.tls.verify_mode = self._verify_between_tests
        self.client_certificate_required = False
        self.routes = []
        self.faults = []
        self.auth = None
        self.scenarios = {}
        self.tokens = None
        self._json_transform = None
        self.unmatched_allowed = False
        self.journal.clear()
        self.bad_requests.clear()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> HttpStub:
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the listener and every connection, hung ones included (embedded)."""
        self.server.stop()

    def __enter__(self) -> HttpStub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget routes, scenarios, faults, auth, the transform and the journal; cancel requests in flight."""
        self.server.reset(self._clear)

    def begin_test(self, test: str) -> None:
        """Serve `test` (a node id) from here on, clean, on a port no earlier test used.

        `end_test` already opened that port and cleared the stub, so this costs no trip to the
        server unless the stub was used since (or the last test was not ended).
        """
        if self.test is not None:
            self.end_test()
        elif not self._is_clean():
            self.reset()
        self.test = test

    def end_test(self) -> None:
        """End the current test: close its connections, cancel its requests still waiting, leave its port
        answering 503 (`late_requests`), move to the next test's port and forget the configuration."""
        self.server.end_test(self._clear)

    def _is_clean(self) -> bool:
        return self.server.idle and not (
            self.routes or self.faults or self.auth or self.scenarios or self._json_transform or self.unmatched_allowed
            or self.client_certificate_required
            or self.journal.entries or self.bad_requests
        )

    # -- addresses -------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self.server.address[0]

    @property
    def port(self) -> int:
        """The current test's port (a new one for each test on the embedded server: see `begin_test`)."""
        return self.server.address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{host}:{self.port}"

    def url_for(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"url_for needs a path starting with '/', got {path!r}")
        return self.url + path

    # -- setting up ------------------------------------------------------------------------------
    def expect(
        self,
        method: str,
        path: str | re.Pattern[str] | PathTemplate,
        *,
        query: Mapping[str, QueryExpected] | None = None,
        headers: Mapping[str, Expected] | None = None,
        json: object = NOT_GIVEN,
        body: bytes | str | None = None,
        accept: str | None = None,
        name: str | None = None,
    ) -> Route:
        """Add a route. `path` may hold `{name}` placeholders or be an `re.Pattern`; `json` matches
        partially; `accept` matches a media type the Accept header lists (media-type versioning)."""
        template = path if isinstance(path, PathTemplate) else PathTemplate(path)
        matcher = RequestMatcher(method, template, query, headers, json, body, accept)
        label = name or f"{matcher.method} {template.text}" + (f" ({accept})" if accept else "")
        route = Route(matcher, label, on_change=self.publish, refresh=self.refresh)
        self.routes.append(route)
        self._publish(undo=lambda: self.routes.remove(route))
        return route

    def serve_openapi(
        self, document: str | os.PathLike[str] | Mapping[str, Any] | ApiDocument, *, prefix: str | None = None, seed: int = 0,
        validate: bool = True,
    ) -> OpenApiStub:
        """A route for every operation of an OpenAPI 3.0/3.1 document (a path, YAML/JSON text, a mapping),
        under `prefix` (default: the path of its first server); see `pytest_ipc.stub.openapi`.

        Each request is checked against the document (`validate=False` turns that off) and answered
        from its examples or schemas, seeded with `seed`; `.route(operationId)` changes one operation."""
        loaded = document if isinstance(document, ApiDocument) else load_document(document)
        api = OpenApiStub(self, loaded, prefix=prefix, seed=seed, validate=validate)
        added = list(api.routes.values())
        self.routes.extend(added)

        def undo() -> None:
            for route in added:
                self.routes.remove(route)

        self._publish(undo)
        return api

    def require_bearer(self, token: str) -> None:
        """Every request must carry this bearer token (401 without one, 403 with another)."""
        self._set_auth(BearerAuth(token))

    def require_basic(self, user: str, password: str) -> None:
        """Every request must carry these basic credentials (401 without, 403 with others)."""
        self._set_auth(BasicAuth(user, password))

    def require_client_certificate(self) -> None:
        """Mutual TLS until `reset()`: a client presenting no certificate from the stub's CA fails its
        TLS handshake (new connections; each request's `client_subject` names the certificate)."""
        if self.tls is None or self.tls.verify_mode == ssl.CERT_NONE:
            raise TlsUsageError(
                "require_client_certificate() needs a stub serving HTTPS whose context trusts a client CA: use the "
                "https_stub fixture, or HttpStub(tls=ipc_tls_ca.server_context(accept_client_certificate=True))"
            )
        self.tls.verify_mode = ssl.CERT_REQUIRED
        self.client_certificate_required = True

    def token_issuer(self, *, issuer: str | None = None, audience: str | None = None, lifetime: float = 300.0) -> TokenIssuer:
        """An OAuth2 authorization server on this stub (`pytest_ipc.stub.tokens`): its JWKS at
        `/.well-known/jwks.json` and its client-credentials token endpoint at `POST /oauth/token`;
        `issuer` and `audience` default to the stub's URL, `lifetime` is the tokens' in seconds."""
        if isinstance(self.server, WireMockServer):
            raise WireMockUnsupported("the token issuer signs tokens per request; WireMock cannot (use the embedded stub)")
        if self.tokens is not None:
            raise ValueError("this test's stub has a token issuer already (http_stub.tokens); add clients to it")
        url = self.url
        self.tokens = TokenIssuer(self, issuer or url, audience or url, lifetime)
        return self.tokens

    def _set_auth(self, auth: Auth) -> None:
        previous, self.auth = self.auth, auth
        self._publish(undo=lambda: setattr(self, "auth", previous))

    def inject(self, *faults: Fault | str) -> None:
        """Faults (from `pytest_ipc.faults`, or their names) for every request, before the route's own."""
        kept = len(self.faults)
        self.faults.extend(arm(fault) for fault in faults)

        def undo() -> None:
            del self.faults[kept:]

        self._publish(undo)

    @property
    def json_transform(self) -> JsonTransform | None:
        return self._json_transform

    @json_transform.setter
    def json_transform(self, transform: JsonTransform | None) -> None:
        previous, self._json_transform = self._json_transform, transform
        self._publish(undo=lambda: setattr(self, "_json_transform", previous))

    def scenario(self, name: str, initial: str = "started", states: Iterable[str] | None = None) -> Scenario:
        """The scenario called `name`, created on first use."""
        return scenario_in(self.scenarios, name, initial, states)

    def allow_unmatched(self) -> None:
        """Do not fail this test for requests no route matched (the fixture checks at teardown)."""
        self.unmatched_allowed = True

    def publish(self) -> None:
        """Make the server serve the current definitions; every method above calls it.

        Needed only after changing `routes` or `faults` by hand: the embedded server reads them
        live, WireMock needs them pushed (and raises `WireMockUnsupported` for what it cannot serve).
        """
        self.server.publish()

    def _publish(self, undo: Callable[[], object]) -> None:
        """Publish a change; when the server refuses it, `undo` it, so the stub still means what it serves."""
        try:
            self.publish()
        except BaseException:
            undo()
            raise

    def refresh(self) -> None:
        """Read back what the server saw; the queries below do (WireMock's journal is remote)."""
        self.server.refresh()

    # -- looking at what happened ----------------------------------------------------------------
    @property
    def max_in_flight(self) -> int:
        """The most requests the stub was handling at once since the last reset."""
        self.refresh()
        return self.journal.max_in_flight

    def calls(self, route: Route | str | None = None) -> list[JournalEntry]:
        """Journal entries for `route` (a Route or its name), or all of them."""
        self.refresh()
        return self.journal.snapshot() if route is None else self.journal.calls(self._route(route))

    def assert_called(self, route: Route | str, times: int | None = None) -> None:
        self.refresh()
        self.journal.assert_called(self._route(route), times)

    def assert_not_called(self, route: Route | str) -> None:
        self.refresh()
        self.journal.assert_called(self._route(route), 0)

    def assert_called_in_order(self, routes: Iterable[Route | str]) -> None:
        self.refresh()
        self.journal.assert_called_in_order([self._route(route) for route in routes])

    def unmatched(self) -> list[JournalEntry]:
        self.refresh()
        return self.journal.unmatched()

    def problems_report(self) -> str | None:
        """Unmatched requests (unless allowed) and errors in user callbacks, readably; None if none."""
        lines: list[str] = []
        unmatched = [] if self.unmatched_allowed else self.unmatched()
        if unmatched:
            lines.append(f"http_stub: {len(unmatched)} request(s) matched no route:")
            for entry in unmatched:
                lines.append(f"  {entry.request.describe()}")
                lines += [f"      closest: {miss}" for miss in entry.closest_misses]
            lines.append("(allow them with http_stub.allow_unmatched() or @pytest.mark.http_stub_allow_unmatched)")
        for route in self.routes:
            lines += route.problems()
        failed = [entry for entry in self.journal.snapshot() if entry.error]
        for entry in failed:
            lines.append(f"http_stub: answering {entry.request.describe()} raised:\n{entry.error}")
        return "\n".join(lines) or None

    def _route(self, route: Route | str) -> Route:
        if isinstance(route, Route):
            return route
        named = [candidate for candidate in self.routes if candidate.name == route]
        if len(named) != 1:
            problem = "no route" if not named else f"{len(named)} routes"
            known = ", ".join(repr(candidate.name) for candidate in self.routes) or "(none)"
            raise ValueError(f"{problem} named {route!r}; routes: {known}")
        return named[0]

    # -- answering (servers that run Python per request call these) -------------------------------
    def match(self, request: StubRequest) -> tuple[Route | None, list[str]]:
        """The first route that takes `request` (its path parameters then in `request.params`), or
        None and why the closest routes did not take it."""
        misses: list[tuple[Miss, Route]] = []
        for route in self.routes:
            result = route.matcher.check(request)
            if not isinstance(result, Miss):
                state_problem = route.scenario_mismatch()
                if state_problem is None:
                    request.params = result
                    return route, []
                result = Miss(7, state_problem)
            misses.append((result, route))
        misses.sort(key=lambda pair: -pair[0].stage)
        return None, [f"{route.name}: {miss.reason}" for miss, route in misses[:CLOSEST_MISSES_SHOWN]]

    def answer(self, request: StubRequest, entry: JournalEntry) -> Response:
        """What the definitions answer `request` (before faults), noted on its journal `entry`."""
        if self.auth is not None:
            denied = self.auth.check(request)
            if denied is not None:
                return denied
        route, closest = self.match(request)
        if route is None:
            entry.unmatched = True
            entry.closest_misses = closest
            return plain_error(404, "\n".join([f"no stub route matches {request.describe()}", *closest]))
        entry.route = route
        try:
            return route.answer(request, self._json_transform)
        except Exception:  # a user callback or transform failed: answer 500, fail the test at teardown
            entry.error = traceback.format_exc()
            return plain_error(500, f"stub route {route.name} raised; see the test's teardown report")
