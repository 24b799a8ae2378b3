"""Proofs that a fault fired which can only be settled once a test's call phase is over.

`pytest_ipc.faults.active` adds them while a test runs; the plugin's call-phase wrapper collects and
settles them. Kept apart from the fault vocabulary so that the wrapper, which runs for every test of
every session, imports nothing of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

pending: list[Any] | None = None  # the ActiveFaults of the running test's call phase, while collecting


@contextmanager
def collecting() -> Iterator[list[Any]]:
    """Collect the proofs that must wait for the end of the test."""
    global pending
    previous, pending = pending, []
    try:
        yield pending
    finally:
        pending = previous
