"""Load drivers shared by the reliability tests and `benchmarks/bench_load.py`.

Everything here is real: an asyncio echo upstream and clients on real sockets in a child process,
the fault proxy driven through its admin API. The figures (bytes, sha256 mismatches, fd counts,
latencies) are measured, never assumed, so the tests can assert on them and the benchmark print them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
import os
import random
import re
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Self, TypeVar

from pytest_ipc._net import LOOPBACK
from pytest_ipc.client.client import ToxiproxyClient
from pytest_ipc.client.proxy import Proxy
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

T = TypeVar("T")

#: A connect burst of a thousand clients must not overflow the accept queue (that adds 1 s SYN retries).
ECHO_BACKLOG = 2048
#: Longest a load job may run before the parent gives up on the child.
JOB_TIMEOUT = 120.0


class LoadProcess:
    """A child process holding the echo upstream and the load clients, on one asyncio loop.

    Clients and upstream live outside the process under test so they do not compete with it for the
    GIL (threads in one process hand the GIL over in 5 ms slices, which would be measured as latency
    of the proxy). The parent sends jobs over a pipe and gets plain dataclasses back.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_child_main, args=(child_end,), name="reliability-load", daemon=True)
        self._process.start()
        child_end.close()
        self.upstream_port = self._receive(int, timeout=30.0)
        self.upstream = f"{LOOPBACK}:{self.upstream_port}"

    def _receive(self, kind: type[T], timeout: float) -> T:
        if not self._pipe.poll(timeout):
            raise TimeoutError(f"the load process gave no answer within {timeout} s")
        answer = self._pipe.recv()
        if isinstance(answer, BaseException):
            raise answer
        if not isinstance(answer, kind):
            raise TypeError(f"the load process answered {answer!r}, expected a {kind.__name__}")
        return answer

    def echo_streams(
        self, address: tuple[str, int], connections: int, size: int = 64 * 1024, *, chunk: int = 4096,
        pause: float = 0.005, seed: int = 1,
    ) -> StreamReport:
        """`connections` concurrent echo streams of `size` random bytes each, checked by sha256."""
        self._pipe.send(("streams", (address, connections, size, chunk, pause, seed)))
        return self._receive(StreamReport, JOB_TIMEOUT)

    def short_connections(self, address: tuple[str, int], count: int, concurrency: int = 32) -> ShortReport:
        """`count` open-ping-close echo connections, `concurrency` at a time."""
        self._pipe.send(("short", (address, count, concurrency)))
        return self._receive(ShortReport, JOB_TIMEOUT)

    def http_requests(self, address: tuple[str, int], path: str, total: int, connections: int = 4) -> HttpReport:
        """`total` GETs of `path` over `connections` keep-alive connections."""
        self._pipe.send(("http", (address, path, total, connections)))
        return self._receive(HttpReport, JOB_TIMEOUT)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._pipe.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class ProxiedEcho:
    """An embedded fault proxy, its client, and one proxy in front of a load process's echo server."""

    server: EmbeddedToxiproxy
    client: ToxiproxyClient
    proxy: Proxy


def _child_main(pipe: Connection) -> None:
    asyncio.run(_child_serve(pipe))


async def _child_serve(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    writers: set[asyncio.StreamWriter] = set()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writers.discard(writer)
            writer.close()

    server = await asyncio.start_server(echo, LOOPBACK, 0, backlog=ECHO_BACKLOG)
    pipe.send(server.sockets[0].getsockname()[1])
    jobs: dict[str, Callable[..., Awaitable[object]]] = {
        "streams": _echo_streams,
        "short": _short_connections,
        "http": _http_requests,
    }
    while (job := await loop.run_in_executor(None, pipe.recv)) is not None:
        name, arguments = job
        try:
            pipe.send(await jobs[name](*arguments))
        except Exception as error:  # handed to the parent, which raises it
            pipe.send(error)
    server.close()
    for writer in list(writers):
        writer.close()


@dataclass
class StreamReport:
    """What a batch of echo streams moved and how many came back different (must be 0)."""

    connections: int
    bytes_moved: int  # sent plus received, client side
    mismatches: int
    failures: list[str]
    seconds: float

    @property
    def megabytes(self) -> float:
        return self.bytes_moved / 1e6


async def _echo_stream(address: tuple[str, int], payload: bytes, chunk: int, pause: float) -> str | None:
    """Send `payload` in paced chunks while reading it back; None when the sha256 matches, else why not."""
    reader, writer = await asyncio.open_connection(*address)
    try:

        async def send() -> None:
            for offset in range(0, len(payload), chunk):
                writer.write(payload[offset : offset + chunk])
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)

        sender = asyncio.create_task(send())
        try:
            received = await reader.readexactly(len(payload))
        finally:
            await sender
        if hashlib.sha256(received).digest() != hashlib.sha256(payload).digest():
            return "sha256 mismatch"
        return None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _echo_streams(
    address: tuple[str, int], connections: int, size: int, chunk: int, pause: float, seed: int
) -> StreamReport:
    rng = random.Random(seed)
    payloads = [rng.randbytes(size) for _ in range(connections)]
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_echo_stream(address, payload, chunk, pause) for payload in payloads), return_exceptions=True
    )
    seconds = time.perf_counter() - started
    failures = [repr(outcome) if isinstance(outcome, BaseException) else str(outcome) for outcome in outcomes if outcome]
    mismatches = sum(1 for outcome in outcomes if outcome == "sha256 mismatch")
    return StreamReport(connections, 2 * size * connections, mismatches, failures, seconds)


@dataclass
class ShortReport:
    """A run of short connections: how many, how many failed, how long it took."""

    connections: int
    failures: int
    seconds: float


async def _short_connections(address: tuple[str, int], count: int, concurrency: int) -> ShortReport:
    remaining = iter(range(count))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for number in remaining:
            message = number.to_bytes(8, "big")
            try:
                reader, writer = await asyncio.open_connection(*address)
                writer.write(message)
                if await reader.readexactly(len(message)) != message:
                    failures += 1
                writer.close()
                await writer.wait_closed()
            except (OSError, asyncio.IncompleteReadError):
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ShortReport(count, failures, time.perf_counter() - started)


def open_fds() -> int:
    """File descriptors this process holds now."""
    return len(os.listdir("/proc/self/fd"))


def settled_fds(expected: int, timeout: float = 10.0) -> int:
    """The fd count once it is back to `expected` or stops falling (connections close asynchronously)."""
    deadline = time.monotonic() + timeout
    count = open_fds()
    while count > expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = open_fds()
    return count


class Repeating:
    """Runs `step()` over and over on a daemon thread while a `running()` block lasts.

    A step that raises stops the repetition and is kept in `errors` for the test to assert on.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors: list[str] = []
        self._stop = threading.Event()

    def step(self) -> None:
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as error:  # recorded and asserted on by the caller
                self.errors.append(repr(error))
                return

    @contextlib.contextmanager
    def running(self) -> Iterator[Self]:
        thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


class LatencySampler(Repeating):
    """Times `call` (an admin API request) every `interval` seconds; seconds per call in `samples`."""

    def __init__(self, call: Callable[[], object], interval: float = 0.005) -> None:
        super().__init__("admin-latency-sampler")
        self.call = call
        self.interval = interval
        self.samples: list[float] = []

    def step(self) -> None:
        started = time.perf_counter()
        self.call()
        self.samples.append(time.perf_counter() - started)
        self.pause(self.interval)


def percentile(samples: list[float], fraction: float) -> float:
    """The `fraction` quantile (nearest rank) of `samples`."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def admin_latencies(client: ToxiproxyClient, proxy_name: str, count: int) -> list[float]:
    """`count` sequential GET /proxies/<name> round trips on an otherwise idle server, in seconds."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.get_proxy(proxy_name)
        samples.append(time.perf_counter() - started)
    return samples


class ToxicChurn(Repeating):
    """Adds latency, slicer and bandwidth toxics to `proxy`, waits `period`, removes them, and so on.

    `changes_while_busy` counts the changes made while the proxy had live connections: the proof that
    toxics really came and went mid-stream. `durations` times each add and remove call.
    """

    def __init__(self, proxy: Proxy, period: float = 0.05) -> None:
        super().__init__("toxic-churn")
        self.proxy = proxy
        self.period = period
        self.changes = 0
        self.changes_while_busy = 0
        self.durations: list[float] = []

    def step(self) -> None:
        toxics = [
            self._timed(lambda: self.proxy.latency(0.005, 0.002, stream="downstream", name="churn_latency")),
            self._timed(lambda: self.proxy.slicer(512, 128, 0.0001, stream="upstream", name="churn_slicer")),
            self._timed(lambda: self.proxy.bandwidth(4_000_000, stream="downstream", name="churn_bandwidth")),
        ]
        self._count(len(toxics))
        self.pause(self.period)
        for toxic in toxics:
            self._timed(toxic.remove)
        self._count(len(toxics))
        self.pause(self.period)

    def _timed(self, change: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = change()
        self.durations.append(time.perf_counter() - started)
        return result

    def _count(self, changes: int) -> None:
        self.changes += changes
        if self.proxy.counters().connections_active:
            self.changes_while_busy += changes

    def __repr__(self) -> str:
        return f"ToxicChurn(changes={self.changes}, while_busy={self.changes_while_busy}, errors={self.errors})"


@dataclass
class HttpReport:
    """Requests sent over a few keep-alive connections, and how many did not get a 200."""

    requests: int
    failures: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def _http_requests(address: tuple[str, int], path: str, total: int, connections: int) -> HttpReport:
    request = f"GET {path} HTTP/1.1\r\nhost: {address[0]}\r\n\r\n".encode()
    share = total // connections

    async def client() -> int:
        failures = 0
        reader, writer = await asyncio.open_connection(*address)
        try:
            for _ in range(share):
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                failures += not head.startswith(b"HTTP/1.1 200 ")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return share  # the connection broke: count its whole share as failed
        finally:
            writer.close()
        return failures

    started = time.perf_counter()
    failures = await asyncio.gather(*(client() for _ in range(connections)))
    return HttpReport(share * connections, sum(failures), time.perf_counter() - started)


def summary_ms(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) of `samples` in milliseconds."""
    return statistics.median(samples) * 1000, percentile(samples, 0.99) * 1000
