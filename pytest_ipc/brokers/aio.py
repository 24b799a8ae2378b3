"""The async forms of per-test broker users and `assert_least_privilege`: the same names, awaited.

    from pytest_ipc.brokers import aio

    async def test_the_consumer_needs_only_its_subjects(nats_broker):
        consumer = await aio.user(nats_broker, "orders-consumer", consume=["orders.*"])
        ...
        await aio.assert_least_privilege(consumer)

Creating a user may reload the broker's config and a verdict waits for the broker's evidence to
settle, so both run in a worker thread: the event loop keeps serving the test's own clients.
Works under pytest-asyncio and anyio.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pytest_ipc.brokers import privileges

if TYPE_CHECKING:
    from pytest_ipc.brokers.handles import IsolatedBroker
    from pytest_ipc.brokers.privileges import BrokerUser, PrivilegeReport

__all__ = ["assert_least_privilege", "user"]


async def user(
    broker: IsolatedBroker, name: str, *, publish: Sequence[str] = (), consume: Sequence[str] = (), **native: object
) -> BrokerUser:
    """Async form of `IsolatedBroker.user`."""
    import anyio.to_thread

    create = functools.partial(broker.user, name, publish=publish, consume=consume, **native)
    return await anyio.to_thread.run_sync(create)


async def assert_least_privilege(*users: BrokerUser, allow_unused: Iterable[str] = ()) -> list[PrivilegeReport]:
    """Async form of `pytest_ipc.brokers.assert_least_privilege`."""
    import anyio.to_thread

    verdict = functools.partial(privileges.assert_least_privilege, *users, allow_unused=tuple(allow_unused))
    return await anyio.to_thread.run_sync(verdict)
