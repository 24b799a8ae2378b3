"""`PYTEST_IPC_EVENT_LOOP` picks the loop every LoopThread (and so the fault proxy) runs on."""

from __future__ import annotations

import asyncio
import sys

import pytest

from pytest_ipc._loop import EVENT_LOOP_ENV, EventLoopChoiceError, LoopThread, event_loop_name, new_event_loop


def loop_name_for(monkeypatch: pytest.MonkeyPatch, choice: str | None) -> str:
    if choice is None:
        monkeypatch.delenv(EVENT_LOOP_ENV, raising=False)
    else:
        monkeypatch.setenv(EVENT_LOOP_ENV, choice)
    loop = new_event_loop()
    try:
        return event_loop_name(loop)
    finally:
        loop.close()


@pytest.mark.parametrize("choice", [None, "auto", " UVLOOP ", "uvloop"])
def test_uvloop_is_the_default_when_installed(monkeypatch: pytest.MonkeyPatch, choice: str | None) -> None:
    pytest.importorskip("uvloop")
    assert loop_name_for(monkeypatch, choice) == "uvloop"


def test_asyncio_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loop_name_for(monkeypatch, "asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_uvloop_says_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` raise ImportError
    assert loop_name_for(monkeypatch, "auto") == "asyncio"
    with pytest.raises(EventLoopChoiceError, match="PYTEST_IPC_EVENT_LOOP=uvloop but uvloop is not installed"):
        loop_name_for(monkeypatch, "uvloop")


def test_a_bad_choice_names_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVENT_LOOP_ENV, "trio")
    with pytest.raises(EventLoopChoiceError, match="'trio' is not a valid choice; use one of auto, uvloop, asyncio"):
        LoopThread("never-started")


def test_loop_thread_runs_the_chosen_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVENT_LOOP_ENV, "asyncio")
    thread = LoopThread("choice-test").start()
    try:

        async def running_loop() -> asyncio.AbstractEventLoop:
            return asyncio.get_running_loop()

        assert thread.run(running_loop()) is thread.loop
        assert event_loop_name(thread.loop) == "asyncio"
    finally:
        thread.stop()

