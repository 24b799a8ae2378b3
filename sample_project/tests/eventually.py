"""Waiting for what other threads deliver (subscribers, workers, reply listeners)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

WAIT_S = 5.0


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> float:
    """Poll `condition` until true; returns the seconds it took, fails naming `what` after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - started


class Collected:
    """A list that handlers on other threads append to."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._lock = threading.Lock()

    def __call__(self, item: object) -> None:
        with self._lock:
            self.items.append(item)
