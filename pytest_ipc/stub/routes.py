"""A route: what requests it takes (a matcher), what it answers (replies), and its own rules.

Replies form a sequence and the last one repeats: `respond(...)` once is a fixed answer, several
`respond`/`then_respond` calls (or `respond_sequence`) answer in turn, `fail_first(3, ...)` puts three
failures in front. Every method returns the route, so a whole route reads as one sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Concatenate, ParamSpec

from pytest_ipc._http import Response
from pytest_ipc.faults.layers.stub import ArmedFault, arm, status_response
from pytest_ipc.faults.vocabulary import Fault, Status
from pytest_ipc.stub.auth import Auth, BasicAuth, BearerAuth, JwtAuth, KeySet
from pytest_ipc.stub.matchers import NOT_GIVEN, RequestMatcher
from pytest_ipc.stub.request import StubRequest
from pytest_ipc.stub.responses import Headers, JsonTransform, Reply
from pytest_ipc.stub.scenarios import Scenario

ReplyCallback = Callable[[StubRequest], Reply | Mapping[str, object]]
P = ParamSpec("P")


def _changes(method: Callable[Concatenate[Route, P], Route]) -> Callable[Concatenate[Route, P], Route]:
    """A method that changes what the route answers: the stub publishes the change (WireMock), and
    when its server refuses it the route is put back as it was."""

    def changed(route: Route, /, *args: P.args, **kwargs: P.kwargs) -> Route:
        before = {name: list(value) if isinstance(value, list) else value for name, value in vars(route).items()}
        result = method(route, *args, **kwargs)
        try:
            route.on_change()
        except BaseException:
            vars(route).update(before)
            raise
        return result

    functools.update_wrapper(changed, method)
    return changed


class Route:
    """One expectation of the stub: which requests it takes, what it answers, and its own rules."""

    def __init__(
        self, matcher: RequestMatcher, name: str, on_change: Callable[[], None], refresh: Callable[[], None] | None = None
    ) -> None:
        self.matcher = matcher
        self.name = name
        self.on_change = on_change  # the stub's `publish`
        self.refresh = refresh or (lambda: None)  # the stub's `refresh`: counts of its faults up to date
        self.replies: list[Reply | ReplyCallback] = []
        self.served = 0
        self.auth: Auth | None = None
        self.faults: list[ArmedFault] = []
        self.scenario: Scenario | None = None
        self.scenario_state: str | None = None
        self.next_state: str | None = None

    #: Why this route needs Python per request (a server that cannot run Python refuses it), or None.
    needs_python: str | None = None

    def __repr__(self) -> str:
        return f"Route({self.name!r})"

    # -- what it answers -------------------------------------------------------------------------
    @_changes
    def respond(
        self,
        *,
        status: int = 200,
        json: object = NOT_GIVEN,
        text: str | None = None,
        body: bytes | None = None,
        headers: Headers | None = None,
        content_type: str | None = None,
    ) -> Route:
        """Add a reply (JSON, text or bytes body; `json=fake_json(...)` for generated bodies)."""
        self.replies.append(Reply(status, json, text, body, headers or (), content_type))
        return self

    then_respond = respond

    @_changes
    def respond_sequence(self, replies: Iterable[Reply | Mapping[str, object]]) -> Route:
        """Answer these in turn (each a Reply or a dict of `respond` arguments); the last one repeats."""
        built = [Reply.build(reply) for reply in replies]
        if not built:
            raise ValueError(f"{self.name}: respond_sequence needs at least one reply")
        self.replies.extend(built)
        return self

    @_changes
    def fail_first(self, times: int, *, status: int = 503, retry_after: int | None = None) -> Route:
        """The next `times` calls get `status` (with Retry-After); follow with `then_respond(...)`.

        Reply-sequence sugar: the failures are replies built like `faults.status`'s answer, so they
        take their turn in the sequence (a stub-wide `faults.fail_first` counts requests instead)."""
        failure = Status(code=status, retry_after=retry_after, times=times)  # validates times and status
        built = status_response(failure)
        self.replies.extend([Reply(built.status, body=built.body, headers=tuple(built.headers))] * times)
        return self

    @_changes
    def respond_with(self, callback: ReplyCallback) -> Route:
        """Compute the reply from the request (`request.params` holds the path parameters)."""
        if not callable(callback):
            raise TypeError(f"{self.name}: respond_with needs a callable, got {callback!r}")
        self.replies.append(callback)
        return self

    # -- its rules -------------------------------------------------------------------------------
    @_changes
    def require_bearer(self, token: str) -> Route:
        self.auth = BearerAuth(token)
        return self

    @_changes
    def require_basic(self, user: str, password: str) -> Route:
        self.auth = BasicAuth(user, password)
        return self

    @_changes
    def require_jwt(self, issuer: KeySet, *, scopes: str | Iterable[str] = (), leeway: float = 0.0) -> Route:
        """Requests need a JWT `issuer` signed (a `TokenIssuer`) granting `scopes` ("orders:read"):
        401 invalid_token (expired, not yet valid, wrong key, issuer or audience), 403 insufficient_scope.
        `leeway` is the seconds of clock skew this service tolerates."""
        words = scopes.split() if isinstance(scopes, str) else list(scopes)
        self.auth = JwtAuth(issuer, tuple(words), leeway)
        return self

    @_changes
    def inject(self, *faults: Fault | str) -> Route:
        """Faults for this route's requests (from `pytest_ipc.faults`, or their names), in the order given."""
        self.faults.extend(arm(fault) for fault in faults)
        return self

    @_changes
    def in_state(self, scenario: Scenario, state: str, *, then: str | None = None) -> Route:
        """Match only while `scenario` is in `state`; after answering, move it to `then`."""
        self.scenario = scenario
        self.scenario_state = scenario.check(state)
        self.next_state = None if then is None else scenario.check(then)
        return self

    # -- serving (on the stub's loop thread) -----------------------------------------------------
    def problems(self) -> list[str]:
        """What this route saw that must fail the test at teardown (lines of the report); none here."""
        return []

    def scenario_mismatch(self) -> str | None:
        if self.scenario is not None and self.scenario.state != self.scenario_state:
            return f"scenario {self.scenario.name!r} is in state {self.scenario.state!r}, route needs {self.scenario_state!r}"
        return None

    def answer(self, request: StubRequest, json_transform: JsonTransform | None) -> Response:
        """The response for this call: the auth verdict, else the next reply in the sequence."""
        if self.auth is not None:
            denied = self.auth.check(request)
            if denied is not None:
                return denied
        if self.next_state is not None and self.scenario is not None:
            self.scenario.move_to(self.next_state)
        return self.reply(request, json_transform)

    def reply(self, request: StubRequest, json_transform: JsonTransform | None) -> Response:
        """The next reply in the sequence (an empty 200 when there is none); a route served from an API
        description (`stub.openapi`) checks the request and answers from the description here."""
        if not self.replies:
            return Response(200)
        source = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        reply = source if isinstance(source, Reply) else Reply.build(source(request))
        default_type = self.matcher.accept or "application/json"
        return reply.render(json_transform, default_type)
