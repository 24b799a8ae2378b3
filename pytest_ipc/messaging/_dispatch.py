"""A worker thread that runs a subscription's handler outside the client library's own thread.

nats-py calls back on its event loop and paho on its network thread; a handler that publishes (a
responder) or waits would stall or deadlock them, so those adapters hand deliveries over to this.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_STOP = object()


class Dispatcher(Generic[T]):
    def __init__(self, name: str, handle: Callable[[T], None]) -> None:
        self._handle = handle
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        self._items.put(item)

    def _run(self) -> None:
        while (item := self._items.get()) is not _STOP:
            self._handle(item)  # type: ignore[arg-type]  # anything but _STOP is a T

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what was handed over, then end the thread."""
        self._items.put(_STOP)
        self._thread.join(timeout)
