"""Fetching a provider's pacts from a Pact Broker, so they are collected like local pact files.

Only the read side of the Broker's HAL API is used (`/pacts/provider/{name}/latest`); publishing
verification results back is left to the Pact CLI.
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

CACHE_KEY = pytest.StashKey[dict[str, Path]]()


def fetch_pacts(config: pytest.Config, broker_url: str, provider: str) -> Path:
    """Download the latest pact of every consumer of `provider` into a private directory (once)."""
    cache = config.stash.setdefault(CACHE_KEY, {})
    if provider in cache:
        return cache[provider]
    directory = Path(tempfile.mkdtemp(prefix="pytest-ipc-broker-"))
    config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    from ..fixtures._settings import read_value
    from ..fixtures.contracts import PACT_BROKER_TOKEN

    token = read_value(config, PACT_BROKER_TOKEN)
    headers = {"Accept": "application/hal+json, application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = broker_url.rstrip("/") + "/"
    with httpx.Client(headers=headers, timeout=10.0) as client:
        index = _get_json(client, urljoin(base, f"pacts/provider/{quote(provider, safe='')}/latest"))
        links = index.get("_links", {}).get("pacts", index.get("_links", {}).get("pb:pacts", []))
        for number, link in enumerate(links):
            pact = _get_json(client, urljoin(base, link["href"]))
            (directory / f"broker-{number:03d}.json").write_text(json.dumps(pact))
    cache[provider] = directory
    return directory


def _get_json(client: httpx.Client, url: str) -> dict[str, Any]:
    try:
        response = client.get(url)
    except httpx.HTTPError as error:
        raise pytest.UsageError(f"cannot reach the Pact Broker at {url}: {error}") from error
    if response.status_code == 404:
        return {}
    if response.status_code != 200:
        raise pytest.UsageError(f"the Pact Broker answered {response.status_code} for {url}: {response.text[:200]}")
    document: dict[str, Any] = response.json()
    return document
