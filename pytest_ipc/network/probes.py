"""A readiness probe for `ServiceNetwork.run`, polled from the test side through a published port.

docker-proxy accepts connections on a published port before the service inside listens, so a TCP
connect proves nothing; this one speaks HTTP. Brokers (`run_broker`) bring their own probes.
"""

from __future__ import annotations

import httpx

from pytest_ipc.backends.container import ContainerEndpoint, ReadinessProbe

PROBE_TIMEOUT = 2.0


def http_ready(port: str, path: str = "/", statuses: range = range(200, 500)) -> ReadinessProbe:
    """Ready once GET `path` on the published `port` answers with a status in `statuses`."""

    def probe(endpoint: ContainerEndpoint) -> bool:
        url = f"http://{endpoint.host}:{endpoint.ports[port]}{path}"
        return httpx.get(url, timeout=PROBE_TIMEOUT).status_code in statuses

    return probe


__all__ = ["http_ready"]
