"""Fulfilment jobs on a work queue (point to point): each job goes to exactly one worker.

A Redis list with the reliable-queue pattern: a worker atomically moves a job to a processing list
(`BLMOVE`) and removes it only after handling it, so a job survives a worker crash (`requeue_unfinished`)
and, with the broker's append-only file, a broker restart.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import cast

import redis

from .background import BackgroundLoop


@dataclass(frozen=True)
class Job:
    order_id: int
    action: str = "ship"
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Job:
        data = json.loads(raw)
        return cls(int(data["order_id"]), str(data["action"]), str(data["job_id"]))


class WorkQueue:
    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client = client
        self.pending = name
        self.processing = f"{name}:processing"

    def enqueue(self, job: Job) -> None:
        self.client.lpush(self.pending, job.to_json())

    def take(self, timeout: float) -> tuple[Job, bytes] | None:
        # BLMOVE takes a decimal timeout (Redis >= 6); redis-py's stubs say int
        raw = cast(bytes | None, self.client.blmove(self.pending, self.processing, timeout, "RIGHT", "LEFT"))  # type: ignore[arg-type]
        return None if raw is None else (Job.from_json(raw), raw)

    def ack(self, raw: bytes) -> None:
        self.client.lrem(self.processing, 1, raw)  # type: ignore[arg-type]  # bytes are valid values

    def requeue_unfinished(self) -> int:
        """Put jobs a crashed worker was holding back on the queue; returns how many."""
        moved = 0
        while self.client.lmove(self.processing, self.pending, "RIGHT", "RIGHT") is not None:
            moved += 1
        return moved

    def depth(self) -> int:
        return int(self.client.llen(self.pending))


class Worker(BackgroundLoop):
    """Takes jobs from `queue` on a thread and calls `handler`; reconnects after a broker restart.

    A job is acknowledged after `handler` returned: one whose ack is lost to a broker restart stays
    on the processing list (`requeue_unfinished` hands it out again), so handlers must be idempotent."""

    def __init__(self, queue: WorkQueue, handler: Callable[[Job], None], name: str = "worker") -> None:
        super().__init__(name)
        self.queue = queue
        self.handler = handler
        self.handled = 0

    def step(self) -> None:
        taken = self.queue.take(timeout=0.05)
        if taken is not None:
            job, raw = taken
            self.handler(job)
            self.handled += 1
            self.queue.ack(raw)
