"""pytest-ipc: contract and fault testing of how microservices talk to each other.

The public API is the names below; everything else may change. Names are imported on first use, so
`import pytest_ipc` stays cheap and the optional extras (brokers, containers, contracts) are only
needed by the parts that use them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # the fault proxy: embedded server and typed client
    "EmbeddedToxiproxy": "pytest_ipc.toxiproxy",
    "ConfigError": "pytest_ipc.toxiproxy",
    "ToxiproxyClient": "pytest_ipc.client",
    "ToxiproxyServer": "pytest_ipc.client",
    "ScopedToxiproxy": "pytest_ipc.client",
    "Proxy": "pytest_ipc.client",
    "Toxic": "pytest_ipc.client",
    "ProxyCounters": "pytest_ipc.client",
    "ToxicCounters": "pytest_ipc.client",
    "DirectionCounters": "pytest_ipc.client",
    "LiveConnection": "pytest_ipc.client",
    "ToxiproxyError": "pytest_ipc.client",
    "InvalidArgument": "pytest_ipc.client",
    "InvalidRequest": "pytest_ipc.client",
    "ProxyNotFound": "pytest_ipc.client",
    "ProxyExists": "pytest_ipc.client",
    "ToxicNotFound": "pytest_ipc.client",
    "ToxicExists": "pytest_ipc.client",
    "ServerUnreachable": "pytest_ipc.client",
    "UnsupportedByServer": "pytest_ipc.client",
    # HTTP stubs (their HTTP-level faults live in pytest_ipc.stub)
    "HttpStub": "pytest_ipc.stub",
    "Route": "pytest_ipc.stub",
    "Reply": "pytest_ipc.stub",
    "StubRequest": "pytest_ipc.stub",
    "JournalEntry": "pytest_ipc.stub",
    "Scenario": "pytest_ipc.stub",
    "fake_json": "pytest_ipc.stub",
    # message brokers as fixtures
    "BrokerServer": "pytest_ipc.brokers",
    "IsolatedBroker": "pytest_ipc.brokers",
    "BrokerControlError": "pytest_ipc.brokers",
    "BrokerEndpoint": "pytest_ipc.brokers",
    "BrokerHandle": "pytest_ipc.brokers",
    "BrokerKind": "pytest_ipc.brokers",
    "BROKER_KINDS": "pytest_ipc.brokers",
    # messaging patterns, faults and assertions over the real client libraries
    "channels_for": "pytest_ipc.messaging",
    "Message": "pytest_ipc.messaging",
    "Delivery": "pytest_ipc.messaging",
    "Capture": "pytest_ipc.messaging",
    "Bus": "pytest_ipc.messaging",
    "Channel": "pytest_ipc.messaging",
    "Subscription": "pytest_ipc.messaging",
    "UnsupportedFeature": "pytest_ipc.messaging",
    "RequestReply": "pytest_ipc.messaging",
    "Responder": "pytest_ipc.messaging",
    "RoundTrip": "pytest_ipc.messaging",
    "assert_all_correlated": "pytest_ipc.messaging",
    "Redeliver": "pytest_ipc.messaging",
    "DeadLetterAfter": "pytest_ipc.messaging",
    "consumer_down": "pytest_ipc.messaging",
    "assert_nothing_lost": "pytest_ipc.messaging",
    "assert_exactly_once_effect": "pytest_ipc.messaging",
    "IdempotencyProbe": "pytest_ipc.messaging",
    "IdempotentConsumer": "pytest_ipc.messaging",
    # one fault vocabulary for three layers (the faults themselves: pytest_ipc.faults)
    "FaultNotSupported": "pytest_ipc.faults",
    "InProcess": "pytest_ipc.faults",
    # black-box resilience assertions
    "assert_timeout_honoured": "pytest_ipc.resilience",
    "assert_retries": "pytest_ipc.resilience",
    "assert_breaker": "pytest_ipc.resilience",
    "assert_fallback": "pytest_ipc.resilience",
    "assert_request_cap": "pytest_ipc.resilience",
    "BreakerStates": "pytest_ipc.resilience",
    "watch_pybreaker": "pytest_ipc.resilience",
    "watch_circuitbreaker": "pytest_ipc.resilience",
    "watch_purgatory": "pytest_ipc.resilience",
    # consumer-driven contracts and API evolution
    "ContractError": "pytest_ipc.contracts",
    "ManagedPact": "pytest_ipc.contracts",
    "PactCase": "pytest_ipc.contracts",
    "ProviderStates": "pytest_ipc.contracts",
    "UnknownProviderState": "pytest_ipc.contracts",
    "provider_state": "pytest_ipc.contracts",
    "PublishedMessage": "pytest_ipc.contracts",
    "verify_interaction": "pytest_ipc.contracts",
    "assert_message_matches_pact": "pytest_ipc.contracts",
    "breaking_changes": "pytest_ipc.contracts",
    "assert_pacts_compatible": "pytest_ipc.contracts",
    "check_avro_compatibility": "pytest_ipc.contracts",
    "ResponseEvolver": "pytest_ipc.contracts",
    "assess_maturity": "pytest_ipc.contracts",
    "MaturityReport": "pytest_ipc.contracts",
    # containers
    "ContainerSpec": "pytest_ipc.backends.container",
    "ContainerEndpoint": "pytest_ipc.backends.container",
    "ContainerBackend": "pytest_ipc.backends.container",
    "private_network": "pytest_ipc.backends.container",
    "docker_unavailable_reason": "pytest_ipc.docker_engine",
    "ServiceNetwork": "pytest_ipc.network",
    "NetworkService": "pytest_ipc.network",
    "NetworkProxy": "pytest_ipc.network",
    "http_ready": "pytest_ipc.network",
    "ToxiproxyContainerBackend": "pytest_ipc.backends.toxiproxy_container",
    "WireMockAdmin": "pytest_ipc.network.wiremock",
    "WireMockContainerBackend": "pytest_ipc.network.wiremock",
    "wiremock_mappings": "pytest_ipc.stub.wiremock",
    "WireMockUnsupported": "pytest_ipc.stub.wiremock",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_ipc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from pytest_ipc.backends.container import (
        ContainerBackend,
        ContainerEndpoint,
        ContainerSpec,
        private_network,
    )
    from pytest_ipc.brokers import (
        BROKER_KINDS,
        BrokerControlError,
        BrokerEndpoint,
        BrokerHandle,
        BrokerKind,
        BrokerServer,
        IsolatedBroker,
    )
    from pytest_ipc.messaging import (
        Bus,
        Capture,
        Channel,
        DeadLetterAfter,
        Delivery,
        IdempotencyProbe,
        IdempotentConsumer,
        Message,
        Redeliver,
        RequestReply,
        Responder,
        RoundTrip,
        Subscription,
        UnsupportedFeature,
        assert_all_correlated,
        assert_exactly_once_effect,
        assert_nothing_lost,
        channels_for,
        consumer_down,
    )
    from pytest_ipc.faults import (
        FaultNotSupported,
        InProcess,
    )
    from pytest_ipc.resilience import (
        BreakerStates,
        assert_breaker,
        assert_fallback,
        assert_request_cap,
        assert_retries,
        assert_timeout_honoured,
        watch_circuitbreaker,
        watch_purgatory,
        watch_pybreaker,
    )
    from pytest_ipc.contracts import (
        ContractError,
        ManagedPact,
        MaturityReport,
        PactCase,
        ProviderStates,
        PublishedMessage,
        ResponseEvolver,
        UnknownProviderState,
        assert_message_matches_pact,
        assert_pacts_compatible,
        assess_maturity,
        breaking_changes,
        check_avro_compatibility,
        provider_state,
        verify_interaction,
    )
    from pytest_ipc.client import (
        DirectionCounters,
        InvalidArgument,
        InvalidRequest,
        LiveConnection,
        Proxy,
        ProxyCounters,
        ProxyExists,
        ProxyNotFound,
        ScopedToxiproxy,
        ServerUnreachable,
        Toxic,
        ToxicCounters,
        ToxicExists,
        ToxicNotFound,
        ToxiproxyClient,
        ToxiproxyError,
        ToxiproxyServer,
        UnsupportedByServer,
    )
    from pytest_ipc.docker_engine import docker_unavailable_reason
    from pytest_ipc.backends.toxiproxy_container import ToxiproxyContainerBackend
    from pytest_ipc.network import NetworkProxy, NetworkService, ServiceNetwork, http_ready
    from pytest_ipc.network.wiremock import WireMockAdmin, WireMockContainerBackend
    from pytest_ipc.stub.wiremock import WireMockUnsupported, wiremock_mappings
    from pytest_ipc.stub import HttpStub, JournalEntry, Reply, Route, Scenario, StubRequest, fake_json
    from pytest_ipc.toxiproxy import ConfigError, EmbeddedToxiproxy
