"""The async forms of the contracts area's blocking helpers: the same names, awaited.

    from pytest_ipc.contracts import aio

    async def test_web_may_go_to_production():
        assert await aio.can_i_deploy("Web", GIT_SHA, to_environment="production")

The broker client is synchronous (httpx), so the call runs in a worker thread: the test's event
loop (pytest-asyncio or anyio) keeps running while the broker answers.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ipc.contracts.broker import Deployability

__all__ = ["can_i_deploy"]


async def can_i_deploy(
    pacticipant: str,
    version: str,
    *,
    to_environment: str,
    broker_url: str | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Deployability:
    """`pytest_ipc.contracts.can_i_deploy` without blocking the event loop."""
    from pytest_ipc.contracts import broker

    return await asyncio.to_thread(
        broker.can_i_deploy, pacticipant, version, to_environment=to_environment, broker_url=broker_url,
        token=token, username=username, password=password,
    )
