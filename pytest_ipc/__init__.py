"""pytest-ipc: contract and fault testing of how microservices talk to each other.

The public API is what a test writes: the types of the fixtures (for annotations), the fault
vocabulary (`faults`), the assertions and the helpers, each imported from here. Async forms of the
blocking ones live in `pytest_ipc.aio` under the same names. Everything else may change.

`__all__` lists the public names; the import block says where each comes from. Type checkers and
documentation tools read both as they stand; at run time a name is imported on first use
(`__getattr__`, which reads the import block), so that `import pytest_ipc`, which every pytest
session with the plugin does, loads none of the modules behind the names.
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pytest_ipc import aio as aio
    from pytest_ipc import faults as faults
    from pytest_ipc._errors import IpcAssertionError as IpcAssertionError
    from pytest_ipc._errors import IpcError as IpcError
    from pytest_ipc._errors import IpcUsageError as IpcUsageError
    from pytest_ipc.brokers import BrokerControlError as BrokerControlError
    from pytest_ipc.brokers import BrokerError as BrokerError
    from pytest_ipc.brokers import BrokerServer as BrokerServer
    from pytest_ipc.brokers import BrokerUser as BrokerUser
    from pytest_ipc.brokers import IsolatedBroker as IsolatedBroker
    from pytest_ipc.brokers import LeastPrivilegeError as LeastPrivilegeError
    from pytest_ipc.brokers import assert_least_privilege as assert_least_privilege
    from pytest_ipc.client import Proxy as Proxy
    from pytest_ipc.client import ProxyCounters as ProxyCounters
    from pytest_ipc.client import ScopedToxiproxy as ScopedToxiproxy
    from pytest_ipc.client import TlsTermination as TlsTermination
    from pytest_ipc.client import Toxic as Toxic
    from pytest_ipc.client import ToxiproxyClient as ToxiproxyClient
    from pytest_ipc.client import ToxiproxyError as ToxiproxyError
    from pytest_ipc.client import ToxiproxyServer as ToxiproxyServer
    from pytest_ipc.cluster.assertions import assert_cluster_client as assert_cluster_client
    from pytest_ipc.cluster.handle import IsolatedCluster as IsolatedCluster
    from pytest_ipc.contracts import ContractError as ContractError
    from pytest_ipc.contracts import ManagedPact as ManagedPact
    from pytest_ipc.contracts import PactCase as PactCase
    from pytest_ipc.contracts import ProviderStates as ProviderStates
    from pytest_ipc.contracts import PublishedMessage as PublishedMessage
    from pytest_ipc.contracts import assert_message_matches_pact as assert_message_matches_pact
    from pytest_ipc.contracts import assert_pacts_compatible as assert_pacts_compatible
    from pytest_ipc.contracts import breaking_changes as breaking_changes
    from pytest_ipc.contracts import can_i_deploy as can_i_deploy
    from pytest_ipc.contracts import check_avro_compatibility as check_avro_compatibility
    from pytest_ipc.contracts import check_protobuf_compatibility as check_protobuf_compatibility
    from pytest_ipc.contracts import check_thrift_compatibility as check_thrift_compatibility
    from pytest_ipc.contracts import provider_state as provider_state
    from pytest_ipc.contracts import states_for as states_for
    from pytest_ipc.discovery import DnsServer as DnsServer
    from pytest_ipc.faults import FaultNeverFired as FaultNeverFired
    from pytest_ipc.faults import FaultNotSupported as FaultNotSupported
    from pytest_ipc.faults import InProcess as InProcess
    from pytest_ipc.faults.matrix import InjectedFault as InjectedFault
    from pytest_ipc.messaging import Capture as Capture
    from pytest_ipc.messaging import CrashMidProcessing as CrashMidProcessing
    from pytest_ipc.messaging import DeadLetterAfter as DeadLetterAfter
    from pytest_ipc.messaging import IdempotencyProbe as IdempotencyProbe
    from pytest_ipc.messaging import IdempotentConsumer as IdempotentConsumer
    from pytest_ipc.messaging import Message as Message
    from pytest_ipc.messaging import Redeliver as Redeliver
    from pytest_ipc.messaging import RequestReply as RequestReply
    from pytest_ipc.messaging import Responder as Responder
    from pytest_ipc.messaging import assert_all_correlated as assert_all_correlated
    from pytest_ipc.messaging import assert_channel_conforms as assert_channel_conforms
    from pytest_ipc.messaging import assert_exactly_once_effect as assert_exactly_once_effect
    from pytest_ipc.messaging import assert_nothing_lost as assert_nothing_lost
    from pytest_ipc.messaging import assert_nothing_lost_across_restart as assert_nothing_lost_across_restart
    from pytest_ipc.messaging import assert_poison_dead_lettered as assert_poison_dead_lettered
    from pytest_ipc.messaging import channels_for as channels_for
    from pytest_ipc.messaging import consumer_down as consumer_down
    from pytest_ipc.messaging import duplicate as duplicate
    from pytest_ipc.messaging import example_message as example_message
    from pytest_ipc.messaging import reorder as reorder
    from pytest_ipc.network import NetworkProxy as NetworkProxy
    from pytest_ipc.network import NetworkService as NetworkService
    from pytest_ipc.network import ServiceNetwork as ServiceNetwork
    from pytest_ipc.report import Outcome as Outcome
    from pytest_ipc.report import ReportHandle as ReportHandle
    from pytest_ipc.resilience import BreakerStates as BreakerStates
    from pytest_ipc.resilience import assert_breaker as assert_breaker
    from pytest_ipc.resilience import assert_deadline_honoured as assert_deadline_honoured
    from pytest_ipc.resilience import assert_deadline_propagated as assert_deadline_propagated
    from pytest_ipc.resilience import assert_deadline_set as assert_deadline_set
    from pytest_ipc.resilience import assert_fallback as assert_fallback
    from pytest_ipc.resilience import assert_forbidden_not_retried as assert_forbidden_not_retried
    from pytest_ipc.resilience import assert_least_scopes as assert_least_scopes
    from pytest_ipc.resilience import assert_reauthenticates_once as assert_reauthenticates_once
    from pytest_ipc.resilience import assert_request_cap as assert_request_cap
    from pytest_ipc.resilience import assert_retries as assert_retries
    from pytest_ipc.resilience import assert_retry_codes as assert_retry_codes
    from pytest_ipc.resilience import assert_retry_jitter as assert_retry_jitter
    from pytest_ipc.resilience import assert_timeout_honoured as assert_timeout_honoured
    from pytest_ipc.resilience import assert_token_refreshed as assert_token_refreshed
    from pytest_ipc.resilience import constant as constant
    from pytest_ipc.resilience import exponential as exponential
    from pytest_ipc.resilience import watch_circuitbreaker as watch_circuitbreaker
    from pytest_ipc.resilience import watch_purgatory as watch_purgatory
    from pytest_ipc.resilience import watch_pybreaker as watch_pybreaker
    from pytest_ipc.rpc.grpc_server import GrpcStub as GrpcStub
    from pytest_ipc.rpc.thrift import ThriftStub as ThriftStub
    from pytest_ipc.security import assert_no_credentials_over_plaintext as assert_no_credentials_over_plaintext
    from pytest_ipc.security import assert_presents_client_certificate as assert_presents_client_certificate
    from pytest_ipc.security import assert_verifies_server as assert_verifies_server
    from pytest_ipc.specs import IncompatibleApi as IncompatibleApi
    from pytest_ipc.specs import ProviderOperation as ProviderOperation
    from pytest_ipc.specs import assert_asyncapi_compatible as assert_asyncapi_compatible
    from pytest_ipc.specs import assert_openapi_compatible as assert_openapi_compatible
    from pytest_ipc.specs import assert_pact_matches_asyncapi as assert_pact_matches_asyncapi
    from pytest_ipc.specs import assert_pact_matches_openapi as assert_pact_matches_openapi
    from pytest_ipc.stub import HttpStub as HttpStub
    from pytest_ipc.stub import JournalEntry as JournalEntry
    from pytest_ipc.stub import OpenApiStub as OpenApiStub
    from pytest_ipc.stub import Reply as Reply
    from pytest_ipc.stub import Route as Route
    from pytest_ipc.stub import Scenario as Scenario
    from pytest_ipc.stub import StubGroup as StubGroup
    from pytest_ipc.stub import StubRequest as StubRequest
    from pytest_ipc.stub import fake_json as fake_json
    from pytest_ipc.tls import Certificate as Certificate
    from pytest_ipc.tls import CertificateAuthority as CertificateAuthority
    from pytest_ipc.toxiproxy import EmbeddedToxiproxy as EmbeddedToxiproxy


__all__ = [
    "BreakerStates",
    "BrokerControlError",
    "BrokerError",
    "BrokerServer",
    "BrokerUser",
    "Capture",
    "Certificate",
    "CertificateAuthority",
    "ContractError",
    "CrashMidProcessing",
    "DeadLetterAfter",
    "DnsServer",
    "EmbeddedToxiproxy",
    "FaultNeverFired",
    "FaultNotSupported",
    "GrpcStub",
    "HttpStub",
    "IdempotencyProbe",
    "IdempotentConsumer",
    "InProcess",
    "IncompatibleApi",
    "InjectedFault",
    "IpcAssertionError",
    "IpcError",
    "IpcUsageError",
    "IsolatedBroker",
    "IsolatedCluster",
    "JournalEntry",
    "LeastPrivilegeError",
    "ManagedPact",
    "Message",
    "NetworkProxy",
    "NetworkService",
    "OpenApiStub",
    "Outcome",
    "PactCase",
    "ProviderOperation",
    "ProviderStates",
    "Proxy",
    "ProxyCounters",
    "PublishedMessage",
    "Redeliver",
    "Reply",
    "ReportHandle",
    "RequestReply",
    "Responder",
    "Route",
    "Scenario",
    "ScopedToxiproxy",
    "ServiceNetwork",
    "StubGroup",
    "StubRequest",
    "ThriftStub",
    "TlsTermination",
    "Toxic",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyServer",
    "aio",
    "assert_all_correlated",
    "assert_asyncapi_compatible",
    "assert_breaker",
    "assert_channel_conforms",
    "assert_cluster_client",
    "assert_deadline_honoured",
    "assert_deadline_propagated",
    "assert_deadline_set",
    "assert_exactly_once_effect",
    "assert_fallback",
    "assert_forbidden_not_retried",
    "assert_least_privilege",
    "assert_least_scopes",
    "assert_message_matches_pact",
    "assert_no_credentials_over_plaintext",
    "assert_nothing_lost",
    "assert_nothing_lost_across_restart",
    "assert_openapi_compatible",
    "assert_pact_matches_asyncapi",
    "assert_pact_matches_openapi",
    "assert_pacts_compatible",
    "assert_poison_dead_lettered",
    "assert_presents_client_certificate",
    "assert_reauthenticates_once",
    "assert_request_cap",
    "assert_retries",
    "assert_retry_codes",
    "assert_retry_jitter",
    "assert_timeout_honoured",
    "assert_token_refreshed",
    "assert_verifies_server",
    "breaking_changes",
    "can_i_deploy",
    "channels_for",
    "check_avro_compatibility",
    "check_protobuf_compatibility",
    "check_thrift_compatibility",
    "constant",
    "consumer_down",
    "duplicate",
    "example_message",
    "exponential",
    "fake_json",
    "faults",
    "provider_state",
    "reorder",
    "states_for",
    "watch_circuitbreaker",
    "watch_purgatory",
    "watch_pybreaker",
]


@cache
def _public() -> dict[str, tuple[str, str]]:
    """Public name -> (module, attribute), read from the import block above."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    names: dict[str, tuple[str, str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module is not None
        for alias in node.names:
            names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def __getattr__(name: str) -> Any:
    if name not in _public():
        raise AttributeError(f"module 'pytest_ipc' has no attribute {name!r}")
    module, attribute = _public()[name]
    if module == "pytest_ipc":
        value = importlib.import_module(f"{module}.{attribute}")
    else:
        value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_public()))
