"""The synchronous client inside async tests (anyio's plugin, or loops such as pytest-asyncio runs).

The client has no `aio` forms on purpose: each call is one loopback HTTP round trip (about a
millisecond) to a server that runs on its own thread or process, and no call waits for the test's
event loop. These tests hold the client to that: the upstream runs on the test's own loop, which
is blocked while each call runs, and every call still completes promptly, also the ones that
close or release live connections whose other end is that loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import anyio.abc
import pytest

from pytest_ipc.client import Proxy, ToxiproxyClient

#: Far more than a call takes on a loaded machine, far less than the client's 5 s timeout.
PROMPT = 1.0


@contextmanager
def prompt(calls: list[float]) -> Iterator[None]:
    """Time one synchronous client call made on the test's loop."""
    started = time.monotonic()
    yield
    calls.append(time.monotonic() - started)


async def echo(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        async for chunk in stream:
            await stream.send(chunk)


async def receive_exactly(stream: anyio.abc.SocketStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive()
    return data


async def round_trip(stream: anyio.abc.SocketStream, payload: bytes) -> float:
    started = time.monotonic()
    await stream.send(payload)
    assert await receive_exactly(stream, len(payload)) == payload
    return time.monotonic() - started


async def exercise(client: ToxiproxyClient) -> list[float]:
    """Every kind of call against a proxy whose upstream and client are served by this loop."""
    calls: list[float] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, echo)
        with prompt(calls):
            proxy: Proxy = client.create_proxy("async-test", upstream=f"127.0.0.1:{port}")
        stream = await anyio.connect_tcp(*proxy.address)
        async with stream:
            assert await round_trip(stream, b"ping") < PROMPT
            with prompt(calls):
                toxic = proxy.latency(0.2)
            assert await round_trip(stream, b"slow") >= 0.2
            with prompt(calls):
                toxic.update(latency=60.0)
            await stream.send(b"held")  # our echo answers at once; the proxy holds the answer
            with anyio.fail_after(PROMPT * 5):
                while proxy.counters().downstream.received < 8:
                    await anyio.sleep(0.01)
            with prompt(calls):
                toxic.remove()  # releases the held answer to a socket this loop is not reading yet
            with anyio.fail_after(PROMPT * 5):
                assert await receive_exactly(stream, 4) == b"held"
            with prompt(calls):
                proxy.disable()  # closes the live connection without our side's help
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)), anyio.fail_after(PROMPT * 5):
                await stream.receive()
        with prompt(calls):
            proxy.enable()
        async with await anyio.connect_tcp(*proxy.address) as again:
            assert await round_trip(again, b"back") < PROMPT
            with prompt(calls):
                proxy.delete()
        tasks.cancel_scope.cancel()
    return calls


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio 0.22 here predates what anyio 4.16 needs
@pytest.mark.anyio
async def test_sync_calls_from_an_anyio_test_never_wait_for_its_loop(client: ToxiproxyClient) -> None:
    calls = await exercise(client)

    assert len(calls) == 7
    assert max(calls) < PROMPT, f"a client call blocked the test's loop for {max(calls):.3f} s"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_sync_calls_from_a_coroutine_on_an_asyncio_or_uvloop_loop_never_wait_for_it(
    client: ToxiproxyClient, loop: str
) -> None:
    """What pytest-asyncio does for an async test: run it on a fresh loop of the configured kind."""
    factory = pytest.importorskip("uvloop").new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        calls = runner.run(exercise(client))

    assert max(calls) < PROMPT, f"a client call blocked the test's loop for {max(calls):.3f} s"
