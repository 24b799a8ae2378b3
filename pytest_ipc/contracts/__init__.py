"""Consumer-driven contracts (Pact) and API evolution checks.

Consumer side `consumer`/`recorder`/`merge`, provider side `provider`/`verification`/`states`/
`callbacks`, pact files `pactfile`, exceptions `errors`, and the evolution tools: `compat` (pact vs
pact), `evolve` (tolerant reader), `avro`, `maturity`; `pact_asyncapi` (message pacts vs AsyncAPI).
Names are imported on first use: pact-python, fastavro and Faker are slow to import and optional,
and the pytest plugin imports this package in every session.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ContractError": "errors",
    "ManagedPact": "consumer",
    "ManagedPactServer": "consumer",
    "MaturityReport": "maturity",
    "NoPactsFound": "errors",
    "NotAPact": "errors",
    "PactCase": "verification",
    "PactConflict": "errors",
    "ProviderStates": "states",
    "ProviderUnreachable": "errors",
    "PublishedMessage": "messages",
    "ResponseEvolver": "evolve",
    "UnknownProviderState": "errors",
    "assert_message_matches_pact": "verification",
    "assert_pact_matches_asyncapi": "pact_asyncapi",
    "assert_pacts_compatible": "compat",
    "assess_maturity": "maturity",
    "breaking_changes": "compat",
    "check_avro_compatibility": "avro",
    "provider_state": "states",
    "states_for": "states",
    "verify_interaction": "verification",
}

__all__ = [
    "ContractError",
    "ManagedPact",
    "ManagedPactServer",
    "MaturityReport",
    "NoPactsFound",
    "NotAPact",
    "PactCase",
    "PactConflict",
    "ProviderStates",
    "ProviderUnreachable",
    "PublishedMessage",
    "ResponseEvolver",
    "UnknownProviderState",
    "assert_message_matches_pact",
    "assert_pact_matches_asyncapi",
    "assert_pacts_compatible",
    "assess_maturity",
    "breaking_changes",
    "check_avro_compatibility",
    "provider_state",
    "states_for",
    "verify_interaction",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
