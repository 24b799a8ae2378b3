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
    # containers
    "ContainerSpec": "pytest_ipc.backends.container",
    "ContainerEndpoint": "pytest_ipc.backends.container",
    "ContainerBackend": "pytest_ipc.backends.container",
    "sweep_orphans": "pytest_ipc.backends.container",
    "private_network": "pytest_ipc.backends.container",
    "docker_unavailable_reason": "pytest_ipc.docker_engine",
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
        sweep_orphans,
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
    from pytest_ipc.stub import HttpStub, JournalEntry, Reply, Route, Scenario, StubRequest, fake_json
    from pytest_ipc.toxiproxy import ConfigError, EmbeddedToxiproxy
