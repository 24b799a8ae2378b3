"""Provider side: replay one pact interaction against the real provider and explain any mismatch.

The verifier always reads a pact cut down to the one interaction to verify: selection is exact
(description, provider states with their parameters, key) without the verifier's regex filters,
and the cost of one verification does not grow with the size of the pact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pact import Verifier

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.callbacks import MESSAGE_PATH, CallbackServer, MessageProducer, VerificationContext
from pytest_ipc.contracts.errors import ContractError, ProviderUnreachable
from pytest_ipc.contracts.pactfile import Document, Interaction, PactInteractionRef
from pytest_ipc.contracts.provider import ProviderSession, SessionInteractions
from pytest_ipc.contracts.states import ProviderStates, states_for

DEFAULT_REQUEST_TIMEOUT = 5.0
TELEMETRY_SWITCHES = ("PACT_DO_NOT_TRACK", "pact_do_not_track")


def verify_interaction(
    ref: PactInteractionRef,
    callbacks: CallbackServer,
    *,
    base_url: str | None = None,
    messages: Mapping[str, MessageProducer] | None = None,
    states: ProviderStates | None = None,
    headers: Mapping[str, str] | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> dict[str, Any]:
    """Verify the interaction `ref` names (read from `ref.pact_file`) against the provider at
    `base_url` (HTTP) or against `messages` (producers, by description).

    `states` defaults to the registry of `ref.provider` (`@provider_state(..., provider=...)`);
    `headers` are added to every request (authentication, for example). Raises the state
    handler's or producer's own exception if one raised, `ProviderUnreachable` if nothing answers
    at `base_url`, else `ContractError` listing every mismatch; returns the verifier's structured
    result when the provider honours the interaction.
    """
    document = pactfile.load_pact(ref.pact_file)
    container, interaction = find_interaction(document, ref)
    with tempfile.TemporaryDirectory(prefix="pytest-ipc-verify-") as scratch:
        cut = Path(scratch) / "pact.json"
        pactfile.write_cut(cut, document, container, interaction)
        return verify_cut(
            ref, cut, callbacks, base_url=base_url, messages=messages, states=states, headers=headers,
            request_timeout=request_timeout,
        )


def find_interaction(document: Document, ref: PactInteractionRef) -> tuple[str, Interaction]:
    for container, interaction in pactfile.entries(document):
        if pactfile.identity_of(interaction) == ref.identity:
            return container, interaction
    raise IpcUsageError(f"{ref.pact_file} has no interaction {ref.test_id!r} (any more): re-read the pact file")


def verify_cut(
    ref: PactInteractionRef,
    cut: Path,
    callbacks: CallbackServer,
    *,
    base_url: str | None,
    messages: Mapping[str, MessageProducer] | None,
    states: ProviderStates | None,
    headers: Mapping[str, str] | None,
    request_timeout: float,
) -> dict[str, Any]:
    """Verify the one-interaction pact `cut` (see `verify_interaction` for the arguments)."""
    if ref.is_message and messages is None:
        raise IpcUsageError(f"{ref.test_id} is a message interaction: pass messages={{description: producer}}")
    if not ref.is_message and base_url is None:
        raise IpcUsageError(f"{ref.test_id} is an HTTP interaction: pass base_url='http://host:port'")
    host = urlsplit(base_url).hostname if base_url else LOOPBACK
    verifier = Verifier(ref.provider, host=host)
    verifier.add_source(cut)
    if base_url:
        verifier.add_transport(url=base_url)
    if messages is not None:
        verifier.add_transport(protocol="message", port=callbacks.port, path=MESSAGE_PATH)
    verifier.state_handler(callbacks.state_url, teardown=True, body=True)
    verifier.set_request_timeout(int(request_timeout * 1000))
    verifier.set_coloured_output(enabled=False)
    if headers:
        verifier.add_custom_headers(dict(headers))
    context = VerificationContext(states=states or states_for(ref.provider), messages=messages or {})
    failed = False

    def verify() -> None:
        nonlocal failed
        try:
            verifier.verify()
        except RuntimeError:  # pact-python's way of saying "mismatches": the details are in results
            failed = True

    callbacks.context = context
    try:
        with telemetry_off():
            context.run_alongside(verify)
    finally:
        callbacks.context = None
    if context.errors:
        original = context.errors[0]
        original.add_note(f"raised while the Pact verifier replayed {ref.test_id!r}")
        raise original
    results = verifier.results
    if failed or results.get("errors") or results.get("pendingErrors"):
        if base_url and not ref.is_message:
            ProviderUnreachable.probe(base_url, f"the provider {ref.provider!r} listening there to verify {ref.test_id!r}")
        raise ContractError(
            f"{ref.provider} breaks the contract {ref.test_id!r}:", describe_mismatches(results), results
        )
    return results


@contextlib.contextmanager
def telemetry_off() -> Iterator[None]:
    """`PACT_DO_NOT_TRACK=true` for the duration of one verification, unless the user chose.

    The Pact core reads only that environment variable (there is no setting in pact-python or its
    FFI), and only in the verifier: it checks it while `verify()` runs, before returning, so setting
    it around the call and restoring it after keeps the process environment as the user left it.
    """
    if any(name in os.environ for name in TELEMETRY_SWITCHES):
        yield
        return
    os.environ["PACT_DO_NOT_TRACK"] = "true"
    try:
        yield
    finally:
        os.environ.pop("PACT_DO_NOT_TRACK", None)


def describe_mismatches(results: dict[str, Any]) -> list[str]:
    """One readable line per mismatch in the verifier's JSON result (pending ones included)."""
    lines: list[str] = []
    for error in [*results.get("errors", []), *results.get("pendingErrors", [])]:
        mismatch = error.get("mismatch", {})
        description = error.get("interaction", "")
        if mismatch.get("type") == "mismatches":
            lines.extend(_mismatch_line(item) for item in mismatch.get("mismatches", []))
        else:
            lines.append(f"{description}: {mismatch.get('message') or mismatch}")
    return lines or [f"the verifier failed without a mismatch: {results}"]


def _mismatch_line(item: dict[str, Any]) -> str:
    kind = item.get("type", "mismatch")
    where = item.get("path") or item.get("key") or ""
    detail = item.get("mismatch") or f"expected {item.get('expected')!r}, got {item.get('actual')!r}"
    return f"{kind} {where}: {detail}".replace("  ", " ")


def assert_message_matches_pact(pact_file: str | Path, description: str, actual_message: object) -> dict[str, Any]:
    """Check a message a provider really published (say, read back from a broker) against the pact.

    `actual_message` is a `PublishedMessage` (body, content type, metadata such as the routing key)
    or a plain JSON value, text or bytes. The comparison is the Pact verifier's own, matching rules
    included; a mismatch raises `ContractError` listing every difference.
    """
    path = Path(pact_file)
    refs = pactfile.interaction_refs(path)
    matches = [ref for ref in refs if ref.description == description]
    if len(matches) != 1:
        known = ", ".join(sorted(repr(ref.test_id) for ref in refs)) or "none"
        problem = "no interaction" if not matches else f"{len(matches)} interactions described"
        raise IpcUsageError(f"{path} has {problem} {description!r}; it has: {known}")
    callbacks = CallbackServer()
    try:
        return verify_interaction(matches[0], callbacks, messages={description: lambda: actual_message})
    finally:
        callbacks.stop()


class PactCase:
    """The `pact_interaction` fixture's value: what one item verifies, ready to verify."""

    def __init__(
        self, param: PactInteractionRef | SessionInteractions, session: ProviderSession, callbacks: CallbackServer
    ) -> None:
        self.param = param
        self._session = session
        self._callbacks = callbacks

    @property
    def ref(self) -> PactInteractionRef | None:
        """The interaction of this item (None for the item of this session's new interactions)."""
        return self.param if isinstance(self.param, PactInteractionRef) else None

    def __repr__(self) -> str:
        return f"<PactCase {self.param.test_id}>"

    def verify(
        self,
        base_url: str | None = None,
        *,
        messages: Mapping[str, MessageProducer] | None = None,
        states: ProviderStates | None = None,
        headers: Mapping[str, str] | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> list[dict[str, Any]]:
        """Replay the interaction(s): HTTP ones against `base_url`, message ones against `messages`.

        `states` defaults to the provider's registry (`@provider_state(..., provider=...)`), `headers`
        go with every request (authentication), `request_timeout` is in seconds. Returns the
        verifier's result per interaction. A pending interaction that fails is an expected failure
        (xfail), never a pass; anything else that fails raises.
        """
        results: list[dict[str, Any]] = []
        failures: list[tuple[PactInteractionRef, ContractError]] = []
        for ref, cut in self._session.targets(self.param):
            self._session.recorder.note_verified(ref.pact_file)
            try:
                results.append(verify_cut(
                    ref, cut, self._callbacks,
                    base_url=None if ref.is_message else base_url,
                    messages=messages if ref.is_message else None,
                    states=states, headers=headers, request_timeout=request_timeout,
                ))
            except ContractError as error:
                failures.append((ref, error))
        broken = [error for ref, error in failures if not ref.pending]
        if len(broken) == 1 and len(failures) == 1:
            raise broken[0]
        if broken:
            raise ContractError(
                f"{len(broken)} of {len(results) + len(failures)} interactions are broken:",
                [f"{error.headline} {line}" for error in broken for line in error.mismatches],
                [error.result for error in broken],
            )
        if failures:
            notes = sorted({note for ref, _ in failures if (note := self._session.pending_notes.get(ref.pact_file))})
            why = f" ({'; '.join(notes)})" if notes else ""
            pytest.xfail(f"pending interaction(s) not honoured yet{why}: " + "; ".join(str(error) for _, error in failures))
        return results
