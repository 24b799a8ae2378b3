"""Fetching a provider's pacts from a Pact Broker, so they are collected like local pact files.

The broker's "pacts for verification" API says which pacts are pending (a new consumer expectation
the provider has not met yet): their interactions are verified and reported as expected failures
when they fail. Brokers without that API are read through `/pacts/provider/{name}/latest`.
Publishing verification results back is left to the Pact CLI.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import pytest

CACHE_KEY = pytest.StashKey[dict[str, list[tuple[Path, bool]]]]()
BrokerPact = tuple[Path, bool]  # the downloaded file, and whether the broker says it is pending


def fetch_pacts(config: pytest.Config, broker_url: str, provider: str) -> list[BrokerPact]:
    """Download the pacts `provider` should verify into a private directory (once per session)."""
    cache = config.stash.setdefault(CACHE_KEY, {})
    if provider in cache:
        return cache[provider]
    directory = Path(tempfile.mkdtemp(prefix="pytest-ipc-broker-"))
    config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    from pytest_ipc.fixtures._settings import read_value
    from pytest_ipc.fixtures.contracts import PACT_BROKER_TOKEN

    token = read_value(config, PACT_BROKER_TOKEN)
    headers = {"Accept": "application/hal+json, application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = broker_url.rstrip("/") + "/"
    name = quote(provider, safe="")
    fetched: list[BrokerPact] = []
    with httpx.Client(headers=headers, timeout=10.0) as client:
        listing = _send(client, "POST", urljoin(base, f"pacts/provider/{name}/for-verification"),
                        {"consumerVersionSelectors": [{"latest": True}], "includePendingStatus": True})
        if listing:
            links = [
                (pact["_links"]["self"]["href"], bool(pact.get("verificationProperties", {}).get("pending")))
                for pact in listing.get("_embedded", {}).get("pacts", [])
            ]
        else:
            index = _send(client, "GET", urljoin(base, f"pacts/provider/{name}/latest"))
            hal = index.get("_links", {})
            links = [(link["href"], False) for link in hal.get("pacts", hal.get("pb:pacts", []))]
        for number, (href, pending) in enumerate(links):
            path = directory / f"broker-{number:03d}.json"
            path.write_text(json.dumps(_send(client, "GET", urljoin(base, href))))
            fetched.append((path, pending))
    cache[provider] = fetched
    return fetched


def _send(client: httpx.Client, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        response = client.request(method, url, json=body)
    except httpx.HTTPError as error:
        raise pytest.UsageError(f"cannot reach the Pact Broker at {url}: {error}") from error
    if response.status_code in (404, 405):
        return {}
    if response.status_code != 200:
        raise pytest.UsageError(f"the Pact Broker answered {response.status_code} for {method} {url}: {response.text[:200]}")
    document: dict[str, Any] = response.json()
    return document
