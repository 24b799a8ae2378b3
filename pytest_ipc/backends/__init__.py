"""Where a service comes from: one small protocol, four interchangeable strategies.

Every service pytest-ipc offers (the fault proxy, HTTP stubs, each broker) can come from up to four
backends, tried in a fixed automatic order unless the user names one:

- ``external``: a URL the user gives (a CI service container, a shared server);
- ``container``: a container started through testcontainers on a reachable Docker engine;
- ``local``: a private process from a binary on PATH, on ephemeral loopback ports;
- ``embedded``: a server running inside the test process (ours, in Python).

A backend says up front whether it can run here (`unavailable_reason`), so a fixture can skip with
every backend's reason instead of failing half-way through a start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

BACKEND_NAMES = ("external", "container", "local", "embedded")

ServiceT = TypeVar("ServiceT", covariant=True)


class Backend(Protocol[ServiceT]):
    """One way of providing a service; `start` returns a handle, `stop` releases everything."""

    name: str

    def unavailable_reason(self) -> str | None:
        """None when this backend can start here, otherwise a one-line reason (and a hint)."""

    def start(self) -> ServiceT: ...

    def stop(self) -> None: ...


B = TypeVar("B", bound=Backend[object])


class NoBackendAvailable(Exception):
    """Raised when no backend can run; the message lists each backend's reason, for a skip."""


def choose_backend(candidates: Sequence[B], wanted: str = "auto") -> B:
    """Pick the backend named `wanted`, or the first available one in `candidates` order for "auto".

    Raises ValueError for a name that is not a backend (the caller turns it into a usage error) and
    NoBackendAvailable when nothing can run, with every reason.
    """
    names = [backend.name for backend in candidates]
    if wanted != "auto" and wanted not in names:
        raise ValueError(f"unknown backend {wanted!r}; choose one of: auto, {', '.join(names)}")
    reasons = []
    for backend in candidates:
        if wanted not in ("auto", backend.name):
            continue
        reason = backend.unavailable_reason()
        if reason is None:
            return backend
        reasons.append(f"{backend.name}: {reason}")
    raise NoBackendAvailable("; ".join(reasons))


__all__ = ["BACKEND_NAMES", "Backend", "NoBackendAvailable", "choose_backend"]
