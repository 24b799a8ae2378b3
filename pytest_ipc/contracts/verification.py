"""Provider side: replay one pact interaction against the real provider and explain any mismatch."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pact import Verifier

from .._net import LOOPBACK
from . import pactfile
from .callbacks import (
    MESSAGE_PATH,
    CallbackServer,
    MessageProducer,
    VerificationContext,
)
from .errors import ContractError
from .pactfile import PactInteractionRef
from .states import DEFAULT_STATES, ProviderStates

DEFAULT_REQUEST_TIMEOUT = 5.0


def verify_interaction(
    ref: PactInteractionRef,
    callbacks: CallbackServer,
    *,
    base_url: str | None = None,
    messages: Mapping[str, MessageProducer] | None = None,
    states: ProviderStates = DEFAULT_STATES,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> dict[str, Any]:
    """Verify `ref` against the provider at `base_url` (HTTP) or against `messages` (producers).

    Raises the state handler's or producer's own exception if one raised, else `ContractError`
    listing every mismatch; returns the verifier's structured result when the provider honours it.
    """
    if ref.is_message and messages is None:
        raise ValueError(f"{ref.test_id} is a message interaction: pass messages={{description: producer}}")
    if not ref.is_message and base_url is None:
        raise ValueError(f"{ref.test_id} is an HTTP interaction: pass base_url='http://host:port'")
    host = urlsplit(base_url).hostname if base_url else LOOPBACK
    verifier = Verifier(ref.provider, host=host)
    verifier.add_source(ref.pact_file)
    verifier.filter(description=f"^{re.escape(ref.description)}$")
    if base_url:
        verifier.add_transport(url=base_url)
    if messages is not None:
        verifier.add_transport(protocol="message", port=callbacks.port, path=MESSAGE_PATH)
    verifier.state_handler(callbacks.state_url, teardown=True, body=True)
    verifier.set_request_timeout(int(request_timeout * 1000))
    context = VerificationContext(states=states, messages=messages or {})
    failed = False

    def verify() -> None:
        nonlocal failed
        try:
            verifier.verify()
        except RuntimeError:  # pact-python's way of saying "mismatches": the details are in results
            failed = True

    callbacks.context = context
    try:
        context.run_alongside(verify)
    finally:
        callbacks.context = None
    if context.errors:
        original = context.errors[0]
        original.add_note(f"raised while the Pact verifier replayed {ref.test_id!r}")
        raise original
    results = verifier.results
    if failed:
        raise ContractError(
            f"{ref.provider} breaks the contract {ref.test_id!r}:", describe_mismatches(results), results
        )
    return results


def describe_mismatches(results: dict[str, Any]) -> list[str]:
    """One readable line per mismatch in the verifier's JSON result."""
    lines: list[str] = []
    for error in results.get("errors", []):
        mismatch = error.get("mismatch", {})
        description = error.get("interaction", "")
        if mismatch.get("type") == "mismatches":
            for item in mismatch.get("mismatches", []):
                lines.append(_mismatch_line(item))
        else:
            lines.append(f"{description}: {mismatch.get('message') or mismatch}")
    return lines or [f"the verifier failed without a mismatch: {results}"]


def _mismatch_line(item: dict[str, Any]) -> str:
    kind = item.get("type", "mismatch")
    where = item.get("path") or item.get("key") or ""
    detail = item.get("mismatch") or f"expected {item.get('expected')!r}, got {item.get('actual')!r}"
    return f"{kind} {where}: {detail}".replace("  ", " ")


class PactCase:
    """The `pact_interaction` fixture's value: one interaction, ready to verify."""

    def __init__(self, ref: PactInteractionRef, callbacks: CallbackServer) -> None:
        self.ref = ref
        self._callbacks = callbacks

    def __repr__(self) -> str:
        return f"<PactCase {self.ref.test_id}>"

    def verify(
        self,
        base_url: str | None = None,
        *,
        messages: Mapping[str, MessageProducer] | None = None,
        states: ProviderStates = DEFAULT_STATES,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> dict[str, Any]:
        """Replay the interaction; HTTP ones against `base_url`, message ones against `messages`."""
        return verify_interaction(
            self.ref,
            self._callbacks,
            base_url=None if self.ref.is_message else base_url,
            messages=messages if self.ref.is_message else None,
            states=states,
            request_timeout=request_timeout,
        )


def assert_message_matches_pact(pact_file: str | Path, description: str, actual_message: object) -> dict[str, Any]:
    """Check a message a provider really published (say, read back from a broker) against the pact.

    `actual_message` is a `PublishedMessage` (body, content type, metadata such as the routing key)
    or a plain JSON value, text or bytes. The comparison is the Pact verifier's own, matching rules
    included; a mismatch raises `ContractError` listing every difference.
    """
    path = Path(pact_file)
    refs = pactfile.interaction_refs(path)
    matches = [ref for ref in refs if ref.description == description]
    if not matches:
        known = ", ".join(sorted(repr(ref.description) for ref in refs)) or "none"
        raise ValueError(f"{path} has no interaction {description!r}; it has: {known}")
    callbacks = CallbackServer()
    try:
        return verify_interaction(matches[0], callbacks, messages={description: lambda: actual_message})
    finally:
        callbacks.stop()
