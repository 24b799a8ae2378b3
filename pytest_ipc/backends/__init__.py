"""Where a service comes from: one small protocol, up to four interchangeable strategies.

Every service pytest-ipc provides (the fault proxy ``toxiproxy``, the HTTP stub ``stub``, each
broker) comes from one of these backends:

- ``external``: a server the user already runs, given as a URL (a CI service container, a shared one);
- ``embedded``: a server inside the test process (ours, in Python);
- ``local``: a private process from a binary on PATH, on reserved loopback ports;
- ``container``: a container on a reachable Docker engine.

One rule picks for ``auto`` (`resolve` and `choose_backend`): a URL given means ``external``;
otherwise the first that can run in `AUTO_ORDER`, the cheapest first. A backend says up front
whether it can run here (`unavailable_reason`), so that a fixture skips with every backend's reason
instead of failing half-way through a start.

One module per strategy and service lives next to this one (``toxiproxy_*``, ``stub_*``,
``broker_*``, over the machinery of `container` and `local`); `services` registers them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from pytest_ipc._errors import IpcError, IpcUsageError

#: `auto`'s order once no URL is given: in-process, then a local process, then a container. A
#: container costs seconds and an engine, and a suite should behave the same with or without one.
AUTO_ORDER = ("external", "embedded", "local", "container")

ServiceT = TypeVar("ServiceT", covariant=True)


class Candidate(Protocol):
    """What `choose_backend` asks of a backend: its name, and whether it can run here."""

    name: str

    def unavailable_reason(self) -> str | None:
        """None when this backend can start here, otherwise a one-line reason (and a hint)."""


class Backend(Candidate, Protocol[ServiceT]):
    """One way of providing a service; `start` returns a handle, `stop` releases everything."""

    def start(self) -> ServiceT: ...

    def stop(self) -> None: ...


B = TypeVar("B", bound=Candidate)


class NoBackendAvailable(IpcError):
    """No backend can run here; the message lists each backend's reason (fixtures skip with it)."""


def resolve(wanted: str, url: str | None) -> str:
    """The backend `wanted` names, with `auto` resolved as far as settings go: a URL means external."""
    return "external" if wanted == "auto" and url else wanted


def choose_backend(candidates: Sequence[B], wanted: str = "auto") -> B:
    """The backend named `wanted`, or for "auto" the first of `candidates` in `AUTO_ORDER` that can run.

    Raises `IpcUsageError` for a name that is not among `candidates`, and `NoBackendAvailable` with
    every reason when nothing can run.
    """
    names = [backend.name for backend in candidates]
    if wanted != "auto" and wanted not in names:
        raise IpcUsageError(f"unknown backend {wanted!r}; choose one of: auto, {', '.join(names)}")
    ordered = sorted(candidates, key=lambda backend: AUTO_ORDER.index(backend.name))
    reasons = []
    for backend in ordered:
        if wanted not in ("auto", backend.name):
            continue
        reason = backend.unavailable_reason()
        if reason is None:
            return backend
        reasons.append(f"{backend.name}: {reason}")
    raise NoBackendAvailable("; ".join(reasons))


__all__ = ["AUTO_ORDER", "Backend", "Candidate", "NoBackendAvailable", "choose_backend", "resolve"]
