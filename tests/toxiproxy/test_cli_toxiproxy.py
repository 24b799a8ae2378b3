"""`python -m pytest_ipc.toxiproxy` as a real process: the real server's flags, readiness, signals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_ipc._loop import EVENT_LOOP_ENV
from pytest_ipc._net import LOOPBACK, split_host_port

READY = re.compile(r"API listening on (http://\S+)")
STARTUP_TIMEOUT = 20.0

Launch = Callable[..., tuple[subprocess.Popen[str], str]]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest_ipc.toxiproxy", *args]


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Start the command and wait for its ready line; whatever is still running at teardown is killed."""
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str, event_loop: str | None = None) -> tuple[subprocess.Popen[str], str]:
        """`event_loop` sets PYTEST_IPC_EVENT_LOOP, and the ready line must then name that loop."""
        env = None if event_loop is None else {**os.environ, EVENT_LOOP_ENV: event_loop}
        process = subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        processes.append(process)
        watchdog = threading.Timer(STARTUP_TIMEOUT, process.kill)  # readline must not hang the test
        watchdog.start()
        try:
            line = process.stdout.readline() if process.stdout else ""
        finally:
            watchdog.cancel()
        match = READY.search(line)
        assert match, f"no ready line; stdout {line!r}, stderr {process.stderr.read() if process.stderr else ''!r}"
        assert event_loop is None or f"(pytest-ipc, {event_loop})" in line, line
        return process, match.group(1)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def refuses(listen: str) -> bool:
    try:
        socket.create_connection(split_host_port(listen), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def write_config(directory: Path, entries: list[dict[str, Any]]) -> Path:
    path = directory / "toxiproxy.json"
    path.write_text(json.dumps(entries))
    return path


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_go_style_flags_config_and_a_clean_exit_on_signal(
    launch: Launch, tmp_path: Path, echo_server: Any, wire: Any, stop_signal: signal.Signals
) -> None:
    config = write_config(tmp_path, [{"name": "db", "upstream": echo_server.address, "listen": f"{LOOPBACK}:0"}])
    process, url = launch("-host", LOOPBACK, "-port", "0", "-config", str(config), "-proxy-metrics", "-seed=3")
    proxies = httpx.get(f"{url}/proxies").json()
    assert list(proxies) == ["db"] and proxies["db"]["enabled"]
    with socket.create_connection(split_host_port(proxies["db"]["listen"]), timeout=5) as client:
        wire.round_trip(client)
    assert httpx.get(f"{url}/metrics").status_code == 200
    process.send_signal(stop_signal)
    assert process.wait(10) == 0
    assert refuses(proxies["db"]["listen"])
    assert refuses(url.removeprefix("http://"))


def test_double_dash_flags(launch: Launch) -> None:
    process, url = launch("--host", LOOPBACK, "--port", "0", "--runtime-metrics=false")
    assert httpx.get(f"{url}/version").json() == {"version": "2.12.0"}
    assert httpx.get(f"{url}/metrics").status_code == 404
    process.terminate()
    assert process.wait(10) == 0


def test_a_config_that_fails_is_reported_and_the_server_keeps_running(launch: Launch, tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": "a", "upstream": "127.0.0.1:9"}, {"name": "b"}])
    process, url = launch("-port", "0", "-config", str(config))
    assert httpx.get(f"{url}/proxies").json() == {}
    process.terminate()
    assert process.wait(10) == 0
    assert "missing required field: upstream at proxy 2" in (process.stderr.read() if process.stderr else "")


def test_version_flag_prints_like_the_real_server() -> None:
    result = subprocess.run(command("-version"), capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (0, "toxiproxy-server version 2.12.0\n")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [(["-port", "84740"], "invalid port '84740'"), (["-proxy-metrics=maybe"], "invalid boolean value 'maybe'")],
)
def test_bad_flags_are_usage_errors_naming_the_problem(args: list[str], complaint: str) -> None:
    result = subprocess.run(command(*args), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and complaint in result.stderr


def test_an_api_port_in_use_fails_with_a_message() -> None:
    with socket.create_server((LOOPBACK, 0)) as blocker:
        port = blocker.getsockname()[1]
        result = subprocess.run(command("-port", str(port)), capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on {LOOPBACK}:{port}" in result.stderr and "in use" in result.stderr


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_the_ready_line_names_the_event_loop_it_proxies_on(
    launch: Launch, echo_server: Any, wire: Any, event_loop: str
) -> None:
    if event_loop == "uvloop":
        pytest.importorskip("uvloop")
    process, url = launch("-port", "0", event_loop=event_loop)
    proxy = {"name": "db", "upstream": echo_server.address, "listen": f"{LOOPBACK}:0"}
    created = httpx.post(f"{url}/proxies", json=proxy)
    with socket.create_connection(split_host_port(created.json()["listen"]), timeout=5) as client:
        wire.round_trip(client)
    process.terminate()
    assert process.wait(10) == 0


def test_a_bad_event_loop_choice_is_a_usage_error() -> None:
    result = subprocess.run(
        command("-port", "0"), capture_output=True, text=True, timeout=30, env={**os.environ, EVENT_LOOP_ENV: "fast"}
    )
    assert result.returncode == 2
    assert "PYTEST_IPC_EVENT_LOOP='fast' is not a valid choice; use one of auto, uvloop, asyncio" in result.stderr
