"""HTTP-level faults: plain, validated data, plus one `apply` step each.

A fault is attached to a route or to the whole stub (`inject`). For every request it may fire (with
its `probability`, drawn from a `random.Random(seed)` of its own, so a seed makes the pattern of
firings, sampled delays and garbage bytes the same on every run). `apply` gets the response the
route would send and either returns a response to go on with (a delay returns it later, `Status`
replaces it) or writes to the raw connection itself and returns None (the connection then closes).

The names in `FAULT_TYPES` are the vocabulary other layers compile onto: `make_fault(name, ...)`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import MISSING, dataclass, fields
from typing import ClassVar, Literal

from .._http import Exchange, Response
from .._loop import sleep_until
from .responses import check_status

DelayDistribution = Literal["fixed", "uniform", "lognormal"]
DELAY_DISTRIBUTIONS: tuple[str, ...] = ("fixed", "uniform", "lognormal")


@dataclass(frozen=True, kw_only=True)
class Fault:
    """Base of every fault: when it fires. Subclasses say what it does."""

    name: ClassVar[str] = "fault"
    probability: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.probability, (int, float)) or not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"{self.name}: probability must be between 0 and 1, got {self.probability!r}")

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        raise NotImplementedError


def check_positive_int(fault: str, field_name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{fault}: {field_name} must be an int >= 1, got {value!r}")


def check_non_negative(fault: str, field_name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{fault}: {field_name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class Status(Fault):
    """Answer `status` instead (429, 503...), with `Retry-After` when `retry_after` is given."""

    name: ClassVar[str] = "status"
    status: int = 503
    retry_after: int | None = None
    body: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_status(self.status)
        if self.retry_after is not None and (not isinstance(self.retry_after, int) or self.retry_after < 0):
            raise ValueError(f"status: retry_after must be whole seconds >= 0, got {self.retry_after!r}")

    def response(self) -> Response:
        headers = [("content-type", "text/plain; charset=utf-8")]
        if self.retry_after is not None:
            headers.append(("retry-after", str(self.retry_after)))
        return Response(self.status, self.body.encode(), headers)

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        return self.response()


@dataclass(frozen=True)
class Reset(Fault):
    """Abort the connection with a TCP RST once the request is read (client: connection reset)."""

    name: ClassVar[str] = "reset"

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        exchange.abort()
        return None


@dataclass(frozen=True)
class EmptyResponse(Fault):
    """Close the connection cleanly without sending a single byte."""

    name: ClassVar[str] = "empty_response"

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        return None


@dataclass(frozen=True)
class CloseBeforeHeaders(Fault):
    """Send the status line only, then close: the header block never completes."""

    name: ClassVar[str] = "close_before_headers"

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        head = exchange.head_bytes(response)
        exchange.write(head[: head.index(b"\r\n") + 2])
        await exchange.drain()
        return None


@dataclass(frozen=True)
class MalformedChunk(Fault):
    """Send the head as chunked, one good chunk of the body, then a chunk header that is not hex."""

    name: ClassVar[str] = "malformed_chunk"

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        good = response.body[:16] or b"partial"
        exchange.write(exchange.head_bytes(response, chunked=True))
        exchange.write(b"%x\r\n%s\r\n" % (len(good), good))
        exchange.write(b"not-a-chunk-size\r\n")  # deliberately invalid chunked framing
        await exchange.drain()
        return None


@dataclass(frozen=True)
class RandomDataThenClose(Fault):
    """Send `nbytes` of random bytes where the response should be, then close."""

    name: ClassVar[str] = "random_data_then_close"
    nbytes: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.name, "nbytes", self.nbytes)

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        garbage = bytearray(rng.randbytes(self.nbytes))
        garbage[0] = 0  # never accidentally the start of "HTTP/"
        exchange.write(bytes(garbage))
        await exchange.drain()
        return None


@dataclass(frozen=True)
class DribbleBody(Fault):
    """Send the head at once, then the body in `chunks` even pieces spread over `duration_s`."""

    name: ClassVar[str] = "dribble_body"
    duration_s: float = 1.0
    chunks: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        check_non_negative(self.name, "duration_s", self.duration_s)
        check_positive_int(self.name, "chunks", self.chunks)

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        body = response.body
        pieces = max(1, min(self.chunks, len(body)))
        exchange.write(exchange.head_bytes(response))
        await exchange.drain()
        started = time.monotonic()
        for index in range(pieces):
            # Each piece goes out at its share of the duration, so the last one lands at duration_s.
            await sleep_until(started + self.duration_s * (index + 1) / pieces)
            exchange.write(body[len(body) * index // pieces : len(body) * (index + 1) // pieces])
            await exchange.drain()
        return None


@dataclass(frozen=True)
class Delay(Fault):
    """Wait before answering: `Delay.fixed(s)`, `Delay.uniform(low, high)`, `Delay.lognormal(median, sigma)`."""

    name: ClassVar[str] = "delay"
    distribution: DelayDistribution = "fixed"
    seconds: float = 0.0
    low: float = 0.0
    high: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    max_s: float | None = None  # a cap for long-tailed samples

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.distribution not in DELAY_DISTRIBUTIONS:
            raise ValueError(f"delay: unknown distribution {self.distribution!r}; choose one of: {', '.join(DELAY_DISTRIBUTIONS)}")
        for field_name in ("seconds", "low", "high", "median", "sigma"):
            check_non_negative(self.name, field_name, getattr(self, field_name))
        if self.max_s is not None:
            check_non_negative(self.name, "max_s", self.max_s)
        if self.distribution == "uniform" and self.low > self.high:
            raise ValueError(f"delay: uniform needs low <= high, got low={self.low} high={self.high}")
        if self.distribution == "lognormal" and self.median <= 0:
            raise ValueError(f"delay: lognormal needs a median > 0, got {self.median}")

    @classmethod
    def fixed(cls, seconds: float, *, probability: float = 1.0, seed: int | None = None) -> Delay:
        return cls(distribution="fixed", seconds=seconds, probability=probability, seed=seed)

    @classmethod
    def uniform(cls, low: float, high: float, *, probability: float = 1.0, seed: int | None = None) -> Delay:
        return cls(distribution="uniform", low=low, high=high, probability=probability, seed=seed)

    @classmethod
    def lognormal(
        cls, median: float, sigma: float, *, max_s: float | None = None, probability: float = 1.0, seed: int | None = None
    ) -> Delay:
        return cls(distribution="lognormal", median=median, sigma=sigma, max_s=max_s, probability=probability, seed=seed)

    def sample(self, rng: random.Random) -> float:
        if self.distribution == "fixed":
            seconds = self.seconds
        elif self.distribution == "uniform":
            seconds = rng.uniform(self.low, self.high)
        else:
            seconds = rng.lognormvariate(math.log(self.median), self.sigma)
        return seconds if self.max_s is None else min(seconds, self.max_s)

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        await sleep_until(time.monotonic() + self.sample(rng))
        return response


@dataclass(frozen=True)
class Hang(Fault):
    """Never answer. The stub cancels hung requests at reset and at stop, so nothing waits on them."""

    name: ClassVar[str] = "hang"

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        await asyncio.get_running_loop().create_future()
        return None  # not reached: only cancellation ends a hang


FAULT_TYPES: dict[str, type[Fault]] = {
    kind.name: kind
    for kind in (Status, Reset, EmptyResponse, CloseBeforeHeaders, MalformedChunk, RandomDataThenClose, DribbleBody, Delay, Hang)
}


def make_fault(name: str, **params: object) -> Fault:
    """A fault from its name and attributes; unknown names or attributes raise ValueError with the choices."""
    kind = FAULT_TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; choose one of: {', '.join(FAULT_TYPES)}")
    allowed = [f.name for f in fields(kind)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"{name}: unknown parameter(s) {', '.join(unknown)}; {name} takes: {', '.join(allowed)}")
    missing = [f.name for f in fields(kind) if f.default is MISSING and f.name not in params]
    if missing:
        raise ValueError(f"{name}: missing parameter(s) {', '.join(missing)}")
    return kind(**params)  # type: ignore[arg-type]


class ArmedFault:
    """A fault attached somewhere, with the random stream its seed starts."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.rng = random.Random(fault.seed)

    def fires(self) -> bool:
        return self.fault.probability >= 1.0 or self.rng.random() < self.fault.probability


def arm(fault: Fault | str) -> ArmedFault:
    if isinstance(fault, str):
        fault = make_fault(fault)
    if not isinstance(fault, Fault):
        raise TypeError(f"expected a fault ({', '.join(FAULT_TYPES)}) or its name, got {fault!r}")
    return ArmedFault(fault)
