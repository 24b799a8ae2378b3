"""The crash controls' async forms (`server.aio`): they never block the event loop and bring the
broker back even when the block is cancelled; they run under anyio's pytest plugin, on a plain
asyncio loop (what pytest-asyncio gives a test) and under pytest-asyncio itself where it is
installed. `stop()`/`kill()` leave the broker down; the next test's broker fixture starts it again."""

from __future__ import annotations

import asyncio
import itertools
import time

import anyio
import anyio.to_thread
import pytest
import redis

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import BrokerServer


def answers(handle: IsolatedBroker) -> bool:
    try:
        with redis.Redis.from_url(handle.url, socket_connect_timeout=0.5, socket_timeout=0.5) as client:
            return bool(client.ping())
    except redis.ConnectionError:
        return False


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.slow
async def test_a_restart_does_not_block_the_event_loop(rabbitmq_server: BrokerServer) -> None:
    if rabbitmq_server.backend == "external":
        pytest.skip("an external broker is not ours to restart")
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    try:
        recovery = await rabbitmq_server.aio.restart()
    finally:
        ticker.cancel()
    longest_gap = max(later - earlier for earlier, later in itertools.pairwise(ticks))
    assert recovery > 1.0, "RabbitMQ came back too fast for this test to show anything"
    assert longest_gap < 0.5, f"the loop stalled for {longest_gap:.2f} s during a {recovery:.1f} s restart"
    assert rabbitmq_server.last_recovery == recovery


async def test_stopped_and_killed_bring_the_broker_back(redis_server: BrokerServer, redis_broker: IsolatedBroker) -> None:
    async with redis_server.aio.stopped() as server:
        assert server is redis_server and not server.running
        assert not await asyncio.to_thread(answers, redis_broker)
    assert redis_server.running and await asyncio.to_thread(answers, redis_broker)
    async with redis_server.aio.killed():
        assert not await asyncio.to_thread(answers, redis_broker)
    assert await asyncio.to_thread(answers, redis_broker)


async def test_a_cancelled_block_still_brings_the_broker_back(redis_server: BrokerServer, redis_broker: IsolatedBroker) -> None:
    async def wait_forever_while_down() -> None:
        async with redis_server.aio.stopped():
            await asyncio.sleep(60)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(wait_forever_while_down(), 0.2)
    assert redis_server.running and answers(redis_broker)


async def test_anyio_cancel_scopes_and_the_thread_helper(redis_server: BrokerServer, redis_broker: IsolatedBroker) -> None:
    await redis_server.aio.kill()
    assert not redis_server.running
    assert not await anyio.to_thread.run_sync(answers, redis_broker)
    assert await redis_server.aio.start() > 0
    with anyio.move_on_after(0.2):
        async with redis_server.aio.stopped():
            await anyio.sleep(60)
    assert redis_server.running and await anyio.to_thread.run_sync(answers, redis_broker)


def test_on_a_plain_asyncio_loop(redis_server: BrokerServer, redis_broker: IsolatedBroker) -> None:
    """No anyio runner: the loop pytest-asyncio (or `asyncio.run`) gives a test."""

    async def restart_while_checking() -> float:
        async with redis_server.aio.stopped():
            assert not await asyncio.to_thread(answers, redis_broker)
        return await redis_server.aio.restart()

    assert asyncio.run(restart_while_checking()) >= 0
    assert answers(redis_broker)


def test_under_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio", reason="pytest-asyncio is not installed here")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_restart(redis_server):
            assert await redis_server.aio.restart() >= 0
            async with redis_server.aio.killed():
                assert not redis_server.running
            assert redis_server.running
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_broker_left_down_is_started_for_the_next_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import redis

        def test_leaves_it_down(redis_server):
            redis_server.stop()
            assert not redis_server.running

        def test_finds_it_up(redis_broker):
            with redis.Redis.from_url(redis_broker.url) as client:
                assert client.ping()
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
