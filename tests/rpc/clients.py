"""Real grpcio clients of the shop's Orders service, resilient, or fragile in exactly one respect.

`OrderClient` (sync: a generated stub on a `grpc.Channel`, pybreaker) and `AsyncOrderClient`
(`grpc.aio`, a small breaker of its own) share one `Policy`: a deadline on the whole call (each
attempt gets what is left), retries with exponential backoff on the codes `retry_on` names, a
breaker, a fallback and a cap on calls in flight. Switch one property off to get a broken client:
`deadline=None`, `retry_on=(..., "INVALID_ARGUMENT")`, `fallback=NONE`, `threshold=NEVER`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import grpc
import grpc.aio
import pybreaker

FALLBACK = "fallback"
NONE = object()  # no fallback: errors reach the caller
NEVER = 1_000_000  # a breaker threshold never reached
RECONNECT = [("grpc.initial_reconnect_backoff_ms", 20), ("grpc.min_reconnect_backoff_ms", 20), ("grpc.max_reconnect_backoff_ms", 50)]


@dataclass(frozen=True)
class Policy:
    deadline: float | None = 0.3  # seconds for the whole call, retries included
    attempts: int = 3
    backoff: float = 0.02  # before retry n: backoff * 2 ** (n - 1)
    retry_on: tuple[str, ...] = ("UNAVAILABLE",)
    threshold: int = 3
    cool_down: float = 0.3
    fallback: object = FALLBACK
    cap: int | None = None


class CapExceeded(Exception):
    """The cap on calls in flight is full; refused without waiting."""


def _retryable(error: BaseException, policy: Policy) -> bool:
    return isinstance(error, grpc.RpcError) and error.code().name in policy.retry_on


class OrderClient:
    """Sync: `order(id)` returns the order's status, or the fallback."""

    def __init__(self, target: str, policy: Policy, pb2: ModuleType, pb2_grpc: ModuleType) -> None:
        self.policy = policy
        self.pb2 = pb2
        self.channel = grpc.insecure_channel(target, options=RECONNECT)
        self.stub = pb2_grpc.OrdersStub(self.channel)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=policy.threshold, reset_timeout=policy.cool_down, exclude=[lambda error: isinstance(error, CapExceeded)]
        )
        self.slots = threading.BoundedSemaphore(policy.cap) if policy.cap else None

    def order(self, order_id: str = "o-1") -> str:
        try:
            if self.policy.threshold == NEVER:  # no breaker (pybreaker would also serialise the calls: it holds a lock)
                return self._capped(order_id)
            return str(self.breaker.call(self._capped, order_id))
        except (grpc.RpcError, pybreaker.CircuitBreakerError, CapExceeded):
            if self.policy.fallback is NONE:
                raise
            return str(self.policy.fallback)

    def _capped(self, order_id: str) -> str:
        if self.slots is not None and not self.slots.acquire(blocking=False):
            raise CapExceeded
        try:
            return self._with_retries(order_id)
        finally:
            if self.slots is not None:
                self.slots.release()

    def _with_retries(self, order_id: str) -> str:
        expires = None if self.policy.deadline is None else time.monotonic() + self.policy.deadline
        for attempt in range(1, self.policy.attempts + 1):
            timeout = None if expires is None else max(0.001, expires - time.monotonic())
            try:
                return str(self.stub.Get(self.pb2.GetOrder(id=order_id), timeout=timeout).status)
            except grpc.RpcError as error:
                if attempt == self.policy.attempts or not _retryable(error, self.policy):
                    raise
            time.sleep(self.policy.backoff * 2 ** (attempt - 1))
        raise AssertionError("not reached")

    def close(self) -> None:
        self.channel.close()


class AsyncOrderClient:
    """grpc.aio: the same policy; its breaker admits one trial call when the cool-down is over."""

    def __init__(self, target: str, policy: Policy, pb2: ModuleType, pb2_grpc: ModuleType) -> None:
        self.policy = policy
        self.pb2 = pb2
        self.channel = grpc.aio.insecure_channel(target, options=RECONNECT)
        self.stub: Any = pb2_grpc.OrdersStub(self.channel)
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False

    async def order(self, order_id: str = "o-1") -> str:
        try:
            self._admit()
            try:
                answer = await self._with_retries(order_id)
            except grpc.RpcError:
                self._failed()
                raise
            finally:
                self.trial = False
            self.failures, self.opened_at = 0, None
            return answer
        except (grpc.RpcError, CapExceeded):
            if self.policy.fallback is NONE:
                raise
            return str(self.policy.fallback)

    def _admit(self) -> None:
        if self.opened_at is None:
            return
        if time.monotonic() - self.opened_at < self.policy.cool_down or self.trial:
            raise CapExceeded  # open, or a trial is under way: fail fast
        self.trial = True

    def _failed(self) -> None:
        self.failures += 1
        if self.failures >= self.policy.threshold or self.opened_at is not None:
            self.opened_at = time.monotonic()

    async def _with_retries(self, order_id: str) -> str:
        expires = None if self.policy.deadline is None else time.monotonic() + self.policy.deadline
        for attempt in range(1, self.policy.attempts + 1):
            timeout = None if expires is None else max(0.001, expires - time.monotonic())
            try:
                return str((await self.stub.Get(self.pb2.GetOrder(id=order_id), timeout=timeout)).status)
            except grpc.RpcError as error:
                if attempt == self.policy.attempts or not _retryable(error, self.policy):
                    raise
            await asyncio.sleep(self.policy.backoff * 2 ** (attempt - 1))
        raise AssertionError("not reached")

    async def close(self) -> None:
        await self.channel.close()
