"""Nothing the plugin starts outlives its session: whole pytest runs in a subprocess, then inspection.

The inner session records `machine.snapshot()` while a test holds the fault proxy and the HTTP stub,
and again at `pytest_unconfigure` (after every fixture's teardown). Threads and sockets die with a
process anyway, so the end-of-session record is what proves cleanup; the record taken while the
test ran proves the inspection sees them. Temp dirs are caught by pointing TMPDIR at an empty one.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.machine import child_processes, listening_anywhere, process_alive
from tests.reliability.sessions import Session

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

INNER_CONFTEST = """
import json, os, pathlib, time
from tests.reliability.machine import snapshot

def record(kind, **extra):
    path = pathlib.Path(os.environ["IPC_RECORDS"], f"{kind}-{os.getpid()}-{time.monotonic_ns()}.json")
    path.write_text(json.dumps({**snapshot(), **extra}))

def pytest_runtest_logfinish(nodeid):
    record("after", test=nodeid)

def pytest_sessionstart(session):
    from pytest_ipc._owner import owner_token
    record("start", token=owner_token())

def pytest_unconfigure(config):
    record("end")
"""

INNER_TESTS = """
import os, pathlib, time
import httpx, pytest
from conftest import record

RECORDS = pathlib.Path(os.environ["IPC_RECORDS"])

def use_everything(toxiproxy, http_stub):
    http_stub.expect("GET", "/ping").respond(text="pong")
    proxy = toxiproxy.create_proxy(upstream=(http_stub.host, http_stub.port))
    proxy.latency(0.001)
    assert httpx.get(proxy.url + "/ping").text == "pong"
    record("during", proxy_port=proxy.port)

def block_until_released():
    (RECORDS / f"running-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (RECORDS / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)

@pytest.fixture
def broken(toxiproxy, http_stub):
    use_everything(toxiproxy, http_stub)
    raise RuntimeError("a fixture blew up after starting things")

def test_passes(toxiproxy, http_stub):
    use_everything(toxiproxy, http_stub)

def test_fails(toxiproxy, http_stub):
    use_everything(toxiproxy, http_stub)
    assert False, "a failing test"

def test_fixture_error(broken):
    pass

def test_raises(toxiproxy, http_stub):
    use_everything(toxiproxy, http_stub)
    raise ValueError("the test itself raised")

@pytest.mark.ipc_pact("Web", "Orders")
def test_records_a_pact(ipc_pact):
    ipc_pact.upon_receiving("a ping").with_request("GET", "/ping").will_respond_with(204)
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/ping").status_code == 204

@pytest.mark.parametrize("n", range(4))
def test_blocks(toxiproxy, http_stub, n):
    use_everything(toxiproxy, http_stub)
    block_until_released()
"""


class InnerSession(Session):
    """A session over the inner tests above."""

    def __init__(self, pytester: pytest.Pytester, *args: str) -> None:
        super().__init__(pytester, INNER_CONFTEST, INNER_TESTS, *args)

    def assert_plugin_was_active(self) -> None:
        """The during-test records saw listeners and threads, so an empty end record means something."""
        during = self.records_of("during")
        assert during, "no test got as far as using the fixtures"
        for record in during:
            assert len(record["listening"]) >= 3, record  # admin API, the test's proxy, stub
            assert record["threads"], record

    def assert_tests_closed_their_proxies(self) -> None:
        """After each test, its proxy's listener is gone (the session's servers may stay)."""
        proxy_ports = {record["proxy_port"] for record in self.records_of("during")}
        for record in self.records_of("after"):
            left = proxy_ports & {port for _, port in record["listening"]}
            assert not left, f"after {record['test']}: proxy listeners still open on {sorted(left)}"

    def assert_clean_end(self, processes: int = 1) -> None:
        ends = self.records_of("end")
        assert len(ends) == processes, ends
        for record in ends:
            assert_nothing_held(record)
        self.assert_no_temp_dirs()

    def assert_nothing_survives(self) -> None:
        """From outside, after the process is gone: no listener of it, no child of it, no temp dir."""
        for record in self.records_of("during"):
            still = [port for _, port in record["listening"] if listening_anywhere(port)]
            assert not still, f"ports of pid {record['pid']} still listening after it died: {still}"
            assert [pid for pid in record["children"] if process_alive(pid)] == [], record
        self.assert_no_temp_dirs()


def assert_nothing_held(record: dict[str, Any]) -> None:
    assert record["threads"] == [], f"threads left at the end of the session: {record}"
    assert record["listening"] == [], f"listening sockets left: {record}"
    assert record["children"] == [], f"child processes left: {record}"


def test_passing_failing_and_erroring_tests_leave_nothing(pytester: pytest.Pytester) -> None:
    session = InnerSession(pytester, "-k", "passes or fails or fixture_error or raises")
    session.finish().assert_outcomes(passed=1, failed=2, errors=1)
    session.assert_plugin_was_active()
    session.assert_tests_closed_their_proxies()
    session.assert_clean_end()


def test_ctrl_c_mid_test_still_cleans_up(pytester: pytest.Pytester) -> None:
    session = InnerSession(pytester, "-k", "test_blocks")
    session.wait_for("running")
    session.process.send_signal(signal.SIGINT)
    result = session.finish()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    session.assert_plugin_was_active()
    session.assert_clean_end()


def test_sigkill_of_the_session_leaves_no_listener_behind(pytester: pytest.Pytester) -> None:
    session = InnerSession(pytester, "-k", "test_blocks")
    session.wait_for("running")
    children_before = child_processes(session.process.pid)
    session.process.send_signal(signal.SIGKILL)
    session.finish()
    session.assert_plugin_was_active()
    assert children_before == [], "the embedded servers need no processes of their own"
    session.assert_nothing_survives()


@pytest.mark.slow
def test_sigkill_of_an_xdist_worker_leaves_nothing_of_it(pytester: pytest.Pytester) -> None:
    session = InnerSession(pytester, "-n", "2", "-k", "test_blocks")
    running = session.wait_for("running", count=2)
    victim = int(running[0].name.removeprefix("running-"))
    os.kill(victim, signal.SIGKILL)
    session.release()
    result = session.finish()

    result.stdout.fnmatch_lines(["*worker*crashed*"])
    result.assert_outcomes(passed=3, failed=1)  # the controller carried on; the crash counts as failed
    killed = [record for record in session.records_of("during") if record["pid"] == victim]
    assert killed and all(not listening_anywhere(port) for record in killed for _, port in record["listening"])
    survivors = session.records_of("end")
    assert victim not in [record["pid"] for record in survivors]
    for record in survivors:
        assert_nothing_held(record)
    session.assert_no_temp_dirs()


def test_the_next_session_removes_what_a_sigkilled_one_left(pytester: pytest.Pytester) -> None:
    session = InnerSession(pytester, "-k", "records_a_pact or (blocks and 0)")
    session.wait_for("running")
    token = session.records_of("start")[0]["token"]
    left_behind = sorted(Path("/dev/shm").glob(f"pytest-ipc-pacts-{token}-*"))
    session.process.send_signal(signal.SIGKILL)
    session.finish()
    try:
        assert left_behind, "the killed session had recorded a pact fragment"
        session.run_next_session("-k", "test_passes").assert_outcomes(passed=1)
        assert [path for path in left_behind if path.exists()] == []
        session.assert_no_temp_dirs()
    finally:
        for path in left_behind:  # the machine stays clean while the bug lasts
            shutil.rmtree(path, ignore_errors=True)
