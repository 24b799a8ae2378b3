"""Images for the suite's container tests: those images/build makes, as no registry is reachable here.

The fault proxy's and the stub's can be the public images instead, once pulled: set
``PYTEST_IPC_TOXIPROXY_IMAGE`` or ``PYTEST_IPC_STUB_IMAGE`` (.ci/run sets them to the local ones);
likewise the brokers' of the container clusters (``PYTEST_IPC_<KIND>_IMAGE``).
"""

from __future__ import annotations

import os

TOXIPROXY = os.environ.get("PYTEST_IPC_TOXIPROXY_IMAGE") or "local/toxiproxy:debian"
WIREMOCK = os.environ.get("PYTEST_IPC_STUB_IMAGE") or "local/wiremock:debian"
REDIS = "local/redis:debian"
PYTHON = "local/pytest-ipc-python:debian"  # Python with httpx: the suite's own service containers
#: The brokers' images the container clusters run (tests that make clusters themselves).
CLUSTER_BROKERS = {
    kind: os.environ.get(f"PYTEST_IPC_{kind.upper()}_IMAGE") or f"local/{kind}:debian" for kind in ("nats", "redis", "rabbitmq")
}
