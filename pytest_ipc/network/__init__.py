"""Docker networks with services, brokers, stubs and fault proxies on them, for end-to-end tests.

`ServiceNetwork` (in `services`) is the engine room; the fixtures in `pytest_ipc.fixtures.network`
hand one out per session or per test.
"""

from pytest_ipc.network.probes import http_ready
from pytest_ipc.network.services import NetworkProxy, NetworkService, ServiceNetwork

__all__ = ["NetworkProxy", "NetworkService", "ServiceNetwork", "http_ready"]
