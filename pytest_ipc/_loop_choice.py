"""Which event loop pytest-ipc's in-process servers run on: the choice alone, apart from `_loop`
(which runs loops and imports asyncio), so that declaring the setting costs a session nothing."""

from __future__ import annotations

import os

from pytest_ipc._errors import IpcUsageError

#: Environment variable choosing the event loop: "auto" (uvloop if installed, else asyncio), "uvloop", "asyncio".
EVENT_LOOP_ENV = "PYTEST_IPC_EVENT_LOOP"
EVENT_LOOP_CHOICES = ("auto", "uvloop", "asyncio")

#: The choice of the running pytest session (``--ipc-event-loop``), which wins over the environment.
session_choice: str | None = None


class EventLoopChoiceError(IpcUsageError):
    """`PYTEST_IPC_EVENT_LOOP` names no loop, or one that is not installed."""


def chosen() -> str:
    """The session's choice, else the environment's (read on every call), else "auto"."""
    choice = session_choice or os.environ.get(EVENT_LOOP_ENV, "auto").strip().lower() or "auto"
    if choice not in EVENT_LOOP_CHOICES:
        raise EventLoopChoiceError(
            f"{EVENT_LOOP_ENV}={os.environ[EVENT_LOOP_ENV]!r} is not a valid choice; use one of {', '.join(EVENT_LOOP_CHOICES)}"
        )
    return choice
