"""The thread behind every long-running messaging component (subscriber, worker, reply listener).

It calls `step()` until stopped; a lost broker connection (a restart) pauses briefly and tries again,
so each component's code is just its one step.
"""

from __future__ import annotations

import threading
from typing import Self

import redis

RECONNECT_PAUSE = 0.05  # seconds
JOIN_TIMEOUT = 5.0  # seconds


class BackgroundLoop:
    def __init__(self, name: str) -> None:
        self.reconnects = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def step(self) -> None:
        """One unit of work; should block at most briefly, so `stop()` is noticed."""
        raise NotImplementedError

    def disconnected(self) -> None:
        """Called after a connection error, before the pause."""

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except (redis.ConnectionError, redis.TimeoutError):
                self.reconnects += 1
                self.disconnected()
                self._stopping.wait(RECONNECT_PAUSE)
