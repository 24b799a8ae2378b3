"""pytest-ipc's entry point: registers the fixture modules of each area.

Each area keeps its options and fixtures in `pytest_ipc.fixtures.<area>`; the work itself lives in
the area's own package, so this file stays a table of contents.
"""

from __future__ import annotations

pytest_plugins = [
    "pytest_ipc.fixtures.lifecycle",
    "pytest_ipc.fixtures.event_loop",
    "pytest_ipc.fixtures.backends",
    "pytest_ipc.fixtures.toxiproxy",
    "pytest_ipc.fixtures.stub",
    "pytest_ipc.fixtures.grpc",
    "pytest_ipc.fixtures.thrift",
    "pytest_ipc.fixtures.contracts",
    "pytest_ipc.fixtures.conformance",
    "pytest_ipc.fixtures.brokers",
    "pytest_ipc.fixtures.clusters",
    "pytest_ipc.fixtures.resilience",
    "pytest_ipc.fixtures.report",
    "pytest_ipc.fixtures.network",
    "pytest_ipc.fixtures.tls",
    "pytest_ipc.fixtures.discovery",
]
