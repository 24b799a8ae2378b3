"""How a cluster's nodes run: one small protocol, one module per strategy.

A broker kind (`pytest_ipc.cluster.nats`, ...) describes each program of a node once, as a
`Program`: what runs, in which directory and environment, and the probe that passes once it
serves. A `NodeRunner` makes a `NodeProcess` of it, on which the cluster's faults act:

- ``local`` (`pytest_ipc.cluster.runner_local`): a private process from the binary on PATH
  (`pytest_ipc.backends.local.LocalProcess`); a pause is SIGSTOP to its process group;
- ``container`` (`pytest_ipc.cluster.runner_container`): a container of the kind's image in the
  host's network namespace, its node directory mounted at the same path; a pause is the cgroup
  freezer (``docker pause``).

Either way a node binds the loopback ports the harness reserved, reaches its peers through the
fault proxy's loopback listeners and reads the config files in its directory: a kind configures
its nodes once, for both. Which one runs is the service's ``--ipc-<kind>-backend`` setting
(`pytest_ipc.fixtures.clusters`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Program:
    """One program of a node (a broker, its Sentinel, its epmd). ``argv[0]`` is a command looked up
    on PATH (the host's, or the image's) or an absolute path; `ready` passes once it serves."""

    name: str
    argv: tuple[str, ...]
    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 60.0


class NodeProcess(Protocol):
    """A program of a node as a runner runs it; the cluster's faults act on it."""

    def start(self) -> None:
        """Start it (again, after `kill`: with its files) and return once its probe passes."""

    def kill(self) -> None:
        """End it at once, as a crash would (SIGKILL); returns once it is gone."""

    def pause(self) -> None:
        """Freeze it: it keeps its sockets and answers nothing (a hung node)."""

    def resume(self) -> None:
        """Let a paused program run again."""

    def stop(self) -> None:
        """End it for good and release what it holds (paused or not). Idempotent."""

    @property
    def output(self) -> str:
        """Where its output goes, for messages (a log file, or the container to ask ``docker logs``)."""


class NodeRunner(Protocol):
    """A way of running a cluster's nodes: ``local`` or ``container``."""

    name: str

    @property
    def image(self) -> str | None:
        """The image nodes run in (None: binaries on this machine)."""

    @property
    def pause_method(self) -> str:
        """How a pause is done, for the timeline ("SIGSTOP", "cgroup freezer")."""

    def unavailable_reason(self) -> str | None:
        """None when nodes can run this way here, otherwise a one-line reason (and a hint)."""

    def process(self, program: Program) -> NodeProcess:
        """`program` as this runner runs it (not started)."""


__all__ = ["NodeProcess", "NodeRunner", "Program"]
