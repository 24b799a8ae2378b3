"""Does the client handle its service token well? Refreshing before expiry, one retry of a 401 with a
fresh token, no retry of a 403, and no more scopes than the call needs.

Judged from the stub's journal, whatever the client's library: each assertion takes the call and
the API route, which must `require_jwt` a `TokenIssuer` of the same stub (`http_stub.token_issuer`);
the token endpoint is that issuer's. The probe changes the issuer for the time it needs (a short
lifetime, a key rotation that invalidates the tokens held, a clock so far ahead that no fresh token
is valid yet, a scope nobody is granted) and puts it back. Tokens are named by their claims (`jti`,
`sub`, `scope`), never by the token itself. Async forms: `pytest_ipc.resilience.aio`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, ResilienceUsageError, Sleep, drive, positive
from pytest_ipc.stub.auth import JwtAuth, token_scopes
from pytest_ipc.stub.tokens import IssuedToken, TokenIssuer, scope_set

if TYPE_CHECKING:
    from pytest_ipc.stub import JournalEntry, Route

AFTER_EXPIRY = 0.02  # seconds past a token's expiry before the next call: the stub then refuses it for sure
NEVER_GRANTED = "pytest-ipc:never-granted"
AHEAD = 3600.0  # seconds the issuer's clock jumps ahead so that no fresh token is valid yet


def _jwt_route(route: Route) -> tuple[JwtAuth, TokenIssuer]:
    auth = getattr(route, "auth", None)
    if not isinstance(auth, JwtAuth) or not isinstance(auth.keys, TokenIssuer):
        raise ResilienceUsageError(
            f"expected an API route that requires a JWT of the stub's issuer "
            f"(route.require_jwt(http_stub.token_issuer(...), scopes=...)), got {route!r} with auth {auth!r}"
        )
    return auth, auth.keys


class _Window:
    """The journal entries of the API route and the token endpoint since it was opened."""

    def __init__(self, route: Route, issuer: TokenIssuer) -> None:
        self.route, self.issuer = route, issuer
        self.known = {id(entry) for entry in issuer.stub.calls()}

    def entries(self) -> list[JournalEntry]:
        wanted = (self.route, self.issuer.token_route)
        return [entry for entry in self.issuer.stub.calls() if id(entry) not in self.known and entry.route in wanted]

    def api(self) -> list[JournalEntry]:
        return [entry for entry in self.entries() if entry.route is self.route]

    def render(self, outcomes: Iterable[CallOutcome] = ()) -> str:
        entries = self.entries()
        if not entries:
            return "the stub saw no request of the API route or the token endpoint"
        origin = entries[0].started
        lines = [f"  +{entry.started - origin:.3f} s  {entry.describe()}{self._token(entry)}" for entry in entries]
        calls = [f"  the call {outcome.describe()}" for outcome in outcomes]
        return "\n".join(["requests at the stub:", *lines, *calls])

    def _token(self, entry: JournalEntry) -> str:
        if entry.route is self.issuer.token_route:
            return ""
        claims = entry.claims
        token = f"  token {str(claims.get('jti', '?'))[:8]}" if claims else "  no readable token"
        return token + (f" ({entry.token_problem})" if entry.token_problem else "")


def _jti(entry: JournalEntry) -> str | None:
    return None if entry.claims is None else str(entry.claims.get("jti"))


def refresh_probe(route: Route, lifetime: float, proactive: bool, call_timeout: float) -> Probe[list[IssuedToken]]:
    lifetime, call_timeout = positive("lifetime", lifetime), positive("call_timeout", call_timeout)
    _auth, issuer = _jwt_route(route)
    window = _Window(route, issuer)
    previous, issuer.lifetime = issuer.lifetime, lifetime
    try:
        first: list[CallOutcome] = yield Calls(1, call_timeout)
        accepted = [entry for entry in window.api() if entry.claims is not None and entry.token_problem is None]
        held = issuer.token(_jti(accepted[-1]) or "") if accepted else None
        if held is None:
            raise IpcAssertionError(f"the first call brought no valid token of the stub's issuer to {route.name}\n{window.render(first)}")
        span = float(held.claims["exp"]) - float(held.claims["iat"])
        if abs(span - lifetime) > 1e-6:
            raise IpcAssertionError(
                f"the client used {held.describe()}, issued before the assertion set a lifetime of {lifetime:.3f} s: "
                "start it with a client that holds no token yet"
            )
        yield Sleep(held.expires_at + AFTER_EXPIRY)
        cut = len(window.entries())
        second: list[CallOutcome] = yield Calls(1, call_timeout)
    finally:
        issuer.lifetime = previous
    later = window.entries()[cut:]
    api = [entry for entry in later if entry.route is route]
    report = window.render([*first, *second])
    # Only the held token counts: a token fetched in time that expired before its request arrived
    # (a loaded host) is not the client's defect, and its 401 is answered like any other.
    expired = [entry for entry in api if entry.token_problem == "token expired" and _jti(entry) == held.jti]
    if not api:
        raise IpcAssertionError(f"the call after {held.describe()} expired never reached {route.name}\n{report}")
    fetched = [entry for entry in later if entry.route is issuer.token_route]
    if expired and not fetched:
        raise IpcAssertionError(
            f"the client never refreshes its token: {held.describe()} expired and the next call still sent it to "
            f"{route.name} ({len(expired)} request(s) refused with 401 token expired) and fetched no new token. "
            f"Fetch a new one before expires_in ({lifetime:.3f} s here) runs out\n{report}"
        )
    if expired and proactive:
        raise IpcAssertionError(
            f"a request reached {route.name} with an expired token ({held.describe()}): the client fetched a new one "
            "only after the 401. Refresh before expiry (expires_in minus a margin), so that no request carries an "
            f"expired token (or pass proactive=False to accept a refresh at the first 401)\n{report}"
        )
    if expired:
        after = [entry for entry in api if entry.started > expired[0].started]
        if len(expired) > 1 or not fetched or not after or fetched[0].started < expired[0].started or _jti(after[0]) == _jti(expired[0]):
            raise IpcAssertionError(
                f"expected the client to fetch a new token at the first 401 (token expired) and send that one next; "
                f"it sent the expired token {len(expired)} time(s)\n{report}"
            )
    final = api[-1]
    if final.token_problem is not None or _jti(final) == held.jti:
        raise IpcAssertionError(
            f"after {held.describe()} expired, the call's last request to {route.name} carried no fresh valid token "
            f"({final.token_problem or 'the same token'})\n{report}"
        )
    return [token for entry in api if (token := issuer.token(_jti(entry) or "")) is not None]


def reauthentication_probe(route: Route, call_timeout: float) -> Probe[list[JournalEntry]]:
    call_timeout = positive("call_timeout", call_timeout)
    auth, issuer = _jwt_route(route)
    warm_up = _Window(route, issuer)
    first: list[CallOutcome] = yield Calls(1, call_timeout)
    if not any(entry.token_problem is None and entry.claims is not None for entry in warm_up.api()):
        raise IpcAssertionError(f"the first call (to get a token) did not reach {route.name} with a valid token\n{warm_up.render(first)}")
    issuer.rotate_key(keep_old=False)  # the token the client holds is refused from now on
    window = _Window(route, issuer)
    rejected: list[CallOutcome] = yield Calls(1, call_timeout)
    api, report = window.api(), window.render(rejected)
    if not api or api[0].status != 401:
        raise IpcAssertionError(
            f"could not provoke a 401: after a key rotation dropped the old key, the call's first request to {route.name} "
            f"was {api[0].describe() if api else 'never made'}. This assertion needs a client that keeps its token between "
            f"calls (a fresh token per call never meets a 401)\n{report}"
        )
    if len(api) == 1:
        raise IpcAssertionError(
            f"the client did not retry the 401 (invalid_token: {api[0].token_problem}): expected it to fetch a fresh token "
            f"and retry once, as a key rotation or a revoked token requires\n{report}"
        )
    retry = api[1]
    if _jti(retry) == _jti(api[0]):
        raise IpcAssertionError(f"the client retried the 401 with the same refused token: fetch a fresh token before retrying\n{report}")
    if retry.status == 401 or len(api) > 2:
        raise IpcAssertionError(
            f"expected one retry of the 401 with a fresh token, then success; the stub saw {len(api)} request(s)\n{report}"
        )
    issuer.rotate_key(keep_old=False)
    skew, issuer.clock_skew = issuer.clock_skew, auth.leeway + AHEAD  # no fresh token is valid yet either
    window = _Window(route, issuer)
    try:
        failing: list[CallOutcome] = yield Calls(1, call_timeout, enough=lambda: len(window.api()) > 2)  # a runaway is caught
        api, report = window.api(), window.render(failing)
    finally:
        issuer.clock_skew = skew
    if len(api) > 2:
        still = " and was still retrying when the probe stopped looking" if any(not o.finished for o in failing) else ""
        raise IpcAssertionError(
            f"the client retried a 401 {len(api) - 1} times{still}: while every token is refused, expected one retry with a "
            "fresh token, then the error to the caller (retrying more cannot fix credentials)\n" + report
        )
    return api


def forbidden_probe(route: Route, call_timeout: float) -> Probe[list[JournalEntry]]:
    call_timeout = positive("call_timeout", call_timeout)
    auth, issuer = _jwt_route(route)
    window = _Window(route, issuer)
    route.auth = dataclasses.replace(auth, scopes=(*auth.scopes, NEVER_GRANTED))
    try:
        outcomes: list[CallOutcome] = yield Calls(1, call_timeout)
    finally:
        route.auth = auth
    api, report = window.api(), window.render(outcomes)
    if not api:
        raise IpcAssertionError(f"the call never reached {route.name}\n{report}")
    if api[0].status != 403:
        raise IpcAssertionError(f"expected the call's request to be refused 403 insufficient_scope; it was {api[0].describe()}\n{report}")
    if len(api) > 1:
        raise IpcAssertionError(
            f"the client retried a 403 (insufficient_scope) {len(api) - 1} time(s): a 403 says the token is valid but not "
            "allowed, which neither a retry nor a new token changes; give the error to the caller\n" + report
        )
    return api


def privilege_probe(route: Route, allowed: tuple[str, ...], call_timeout: float) -> Probe[list[JournalEntry]]:
    call_timeout = positive("call_timeout", call_timeout)
    auth, issuer = _jwt_route(route)
    window = _Window(route, issuer)
    outcomes: list[CallOutcome] = yield Calls(1, call_timeout)
    api, report = window.api(), window.render(outcomes)
    presented = [entry for entry in api if entry.claims is not None]
    if not presented:
        raise IpcAssertionError(f"no request brought a readable token to {route.name}\n{report}")
    needed, permitted = set(auth.scopes), set(auth.scopes) | set(allowed)
    for entry in presented:
        granted = token_scopes(entry.claims or {})
        if needed - granted:
            raise IpcAssertionError(
                f"the token sent to {route.name} lacks the scope(s) {' '.join(sorted(needed - granted))} it needs (it grants "
                f"{' '.join(sorted(granted)) or 'none'}): ask the token endpoint for scope={' '.join(auth.scopes)}\n{report}"
            )
        if granted - permitted:
            raise IpcAssertionError(
                f"over-privileged token: the token sent to {route.name} grants {' '.join(sorted(granted - permitted))} "
                f"beyond what the call needs ({' '.join(auth.scopes) or 'no scope'}): the client ignores scopes; ask the "
                f"token endpoint for scope={' '.join(auth.scopes)} only\n{report}"
            )
    return api


def assert_token_refreshed(
    call: Call, route: Route, *, lifetime: float = 0.3, proactive: bool = True, call_timeout: float = 5.0
) -> list[IssuedToken]:
    """With tokens of `lifetime` seconds, a call, a pause until its token expired, and a call: the
    client fetched a new token and no request reached `route` with an expired one (`proactive=False`:
    one 401 is accepted if the new token is fetched at that 401). Give it a client holding no token.
    Returns the tokens that reached the route."""
    return drive(call, refresh_probe(route, lifetime, proactive, call_timeout))


def assert_reauthenticates_once(call: Call, route: Route, *, call_timeout: float = 5.0) -> list[JournalEntry]:
    """After a key rotation refuses the client's token, its call retries the 401 once with a fresh
    token (not with the same one); while every token is refused, it retries once and gives up.
    Returns the requests of the last call."""
    return drive(call, reauthentication_probe(route, call_timeout))


def assert_forbidden_not_retried(call: Call, route: Route, *, call_timeout: float = 5.0) -> list[JournalEntry]:
    """While `route` demands a scope no client is granted (403 insufficient_scope), the call sends
    one request and does not retry it. Returns that call's requests."""
    return drive(call, forbidden_probe(route, call_timeout))


def assert_least_scopes(call: Call, route: Route, *, allowed: str | Iterable[str] = (), call_timeout: float = 5.0) -> list[JournalEntry]:
    """The tokens the call sends to `route` grant its scopes and no others (besides `allowed`): a
    client that ignores scopes gets every scope its registration allows. Returns the call's requests."""
    return drive(call, privilege_probe(route, scope_set(allowed), call_timeout))
