"""Consumer-driven contracts (Pact) and API evolution checks.

Consumer side `consumer`/`recorder`/`merge`, provider side `provider`/`verification`/`states`/
`callbacks`, pact files `pactfile`, exceptions `errors`, the Pact Broker (`broker` the client,
`broker_session` the session's part, `broker_fake` an in-memory broker for tests, `broker_cli`),
and the evolution tools: `compat` (pact vs pact), `evolve` (tolerant reader), `maturity`, and
schema compatibility (`compatibility` owns the modes, findings and report) for `avro`,
`protobuf_compat` and `thrift_compat`. Pacts against an OpenAPI or AsyncAPI document are
`pytest_ipc.specs.pact_check`'s.
Names are imported on first use: pact-python, fastavro and Faker are slow to import and optional,
and the pytest plugin imports this package in every session.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CompatibilityFinding": "compatibility",
    "CompatibilityReport": "compatibility",
    "ContractError": "errors",
    "Deployability": "broker",
    "FakePactBroker": "broker_fake",
    "ManagedPact": "consumer",
    "ManagedPactServer": "consumer",
    "MaturityReport": "maturity",
    "NoPactsFound": "errors",
    "NotAPact": "errors",
    "PactBroker": "broker",
    "PactBrokerError": "errors",
    "PactCase": "verification",
    "PactConflict": "errors",
    "ProviderStates": "states",
    "ProviderUnreachable": "errors",
    "PublishedMessage": "messages",
    "ResponseEvolver": "evolve",
    "UnknownProviderState": "errors",
    "VerifiablePact": "broker",
    "assert_message_matches_pact": "verification",
    "assert_pacts_compatible": "compat",
    "assess_maturity": "maturity",
    "breaking_changes": "compat",
    "can_i_deploy": "broker",
    "check_avro_compatibility": "avro",
    "check_protobuf_compatibility": "protobuf_compat",
    "check_thrift_compatibility": "thrift_compat",
    "provider_state": "states",
    "publish_pacts": "broker",
    "states_for": "states",
    "verify_interaction": "verification",
}

__all__ = [
    "CompatibilityFinding",
    "CompatibilityReport",
    "ContractError",
    "Deployability",
    "FakePactBroker",
    "ManagedPact",
    "ManagedPactServer",
    "MaturityReport",
    "NoPactsFound",
    "NotAPact",
    "PactBroker",
    "PactBrokerError",
    "PactCase",
    "PactConflict",
    "ProviderStates",
    "ProviderUnreachable",
    "PublishedMessage",
    "ResponseEvolver",
    "UnknownProviderState",
    "VerifiablePact",
    "assert_message_matches_pact",
    "assert_pacts_compatible",
    "assess_maturity",
    "breaking_changes",
    "can_i_deploy",
    "check_avro_compatibility",
    "check_protobuf_compatibility",
    "check_thrift_compatibility",
    "provider_state",
    "publish_pacts",
    "states_for",
    "verify_interaction",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
