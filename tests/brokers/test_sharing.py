"""Shared brokers (`pytest_ipc._shared`): the xdist workers of a run share one broker, sessions find a
kept one again; each test keeps its own namespace, and nothing outlives its last user, however the
users die."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc import _shared
from pytest_ipc._proc import process_stat

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

ROOT = Path(__file__).resolve().parents[2]

INNER = """
import json, os
import pytest

def keeper(handle):
    lease = getattr(handle.server.runtime, "lease", None)  # a shared broker's
    return lease.state["keeper_pid"] if lease is not None else None

@pytest.mark.parametrize("n", range(4))
def test_records_its_broker(redis_broker, n):
    client = __import__("redis").Redis.from_url(redis_broker.url)
    client.set(redis_broker.name("k"), n)
    assert client.keys(redis_broker.name("*")) == [redis_broker.name("k").encode()]  # only its own
    client.close()
    with open(os.path.join(os.environ["RECORD_DIR"], f"{n}.json"), "w") as record:
        json.dump({"port": redis_broker.endpoint.port, "prefix": redis_broker.name(""), "pid": os.getpid(),
                   "keeper": keeper(redis_broker)}, record)
"""


def records(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def gone(pid: int) -> bool:
    stat = process_stat(pid)
    return stat is None or not stat.running


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def kept_stopped(pytester: pytest.Pytester) -> Iterator[None]:
    """What the test's inner sessions kept (``--ipc-reuse``) is stopped after it, also when it fails."""
    yield
    for key, state in _shared.instances():
        if state.get("project") == str(pytester.path):
            _shared.stop(key)


@pytest.fixture
def record_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = pytester.path / "records"
    directory.mkdir()
    monkeypatch.setenv("RECORD_DIR", str(directory))
    return directory


def test_xdist_workers_share_one_broker_and_it_stops_after_the_last(pytester: pytest.Pytester, record_dir: Path) -> None:
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--ipc-brokers-share", "workers")
    result.assert_outcomes(passed=4)
    seen = records(record_dir)
    assert len({record["pid"] for record in seen}) == 2, "both workers ran tests"
    assert len({record["port"] for record in seen}) == 1, f"one broker for both workers, got {seen}"
    assert len({record["prefix"] for record in seen}) == 4, "each test has its own key prefix"
    keeper = seen[0]["keeper"]
    assert wait_for(lambda: gone(keeper), 5.0), "the keeper (and its broker) outlived the last worker"


def test_without_sharing_each_worker_has_its_own(pytester: pytest.Pytester, record_dir: Path) -> None:
    pytester.makepyfile(INNER)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2").assert_outcomes(passed=4)
    seen = records(record_dir)
    assert len({record["port"] for record in seen}) == 2 and {record["keeper"] for record in seen} == {None}


def test_a_test_with_crash_controls_gets_a_private_broker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_ipc.brokers.errors import BrokerControlError

        def test_shared_broker_refuses_crash_controls(redis_broker):
            with pytest.raises(BrokerControlError, match="shared by xdist workers.*ask the test for the redis_server fixture"):
                redis_broker.server.kill()

        def test_asking_for_the_server_gives_a_private_one(redis_broker, redis_server):
            assert redis_broker.server is redis_server
            with redis_server.killed():
                pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1", "--ipc-brokers-share", "workers")
    result.assert_outcomes(passed=2)


def test_a_bad_share_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ipc-brokers-share", "everyone")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-brokers-share: unknown share 'everyone'; choose one of: off, workers*"])


USER = """
import json, os, sys, time
from pytest_ipc import _shared
lease = _shared.acquire(sys.argv[1], {"kind": sys.argv[2], "scope": "run"}, linger=float(sys.argv[3]))
print(json.dumps(lease.state), flush=True)
sys.stdin.read()
lease.release()  # as a session does at its end (the tests that kill users never get here)
"""


def start_user(key: str, kind: str = "redis", linger: float = 0.0) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-c", USER, key, kind, str(linger)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def end_user(process: subprocess.Popen[str]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()
    process.wait(10)


def instance_files(key: str) -> list[str]:
    """What is left of shared instance `key` in the shared directory (state, lock, log, leases)."""
    return sorted(path.name for path in _shared.shared_dir().glob(f"{key}*"))


def broker_pids(state: dict[str, Any]) -> list[int]:
    """The broker processes working in the instance's directory."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "cwd").startswith(state["base"]):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_killed_users_leave_no_broker_behind() -> None:
    key = _shared.instance_key("redis", "test", os.urandom(4).hex())
    first, state = start_user(key)
    second, again = start_user(key)
    assert again["ports"] == state["ports"], "the second user found the running broker"
    pids = broker_pids(state)
    assert pids, "the broker runs in the instance's directory"
    first.kill()  # the starter dies: the broker stays for the other user
    first.wait()
    time.sleep(0.2)
    assert _shared.keeper_alive(key) and not any(map(gone, pids))
    second.kill()  # the last user dies: the keeper stops the broker
    second.wait()
    assert wait_for(lambda: not _shared.keeper_alive(key), 5.0)
    assert all(map(gone, pids)) and not Path(state["base"]).exists()
    assert not list(_shared.shared_dir().glob(f"{key}*")), "the instance's files are removed"
    end_user(first)
    end_user(second)


def test_a_killed_keeper_is_reaped_and_replaced() -> None:
    key = _shared.instance_key("redis", "test", os.urandom(4).hex())
    user, state = start_user(key)
    pids = broker_pids(state)
    os.kill(state["keeper_pid"], signal.SIGKILL)
    assert wait_for(lambda: all(map(gone, pids)), 10.0), "the keeper's watchdog ends its broker"
    end_user(user)
    assert wait_for(lambda: not instance_files(key), 10.0), f"the killed keeper's watchdog left its files: {instance_files(key)}"
    replacement, fresh = start_user(key)  # a stale state file is not taken for a running broker
    assert fresh["keeper_pid"] != state["keeper_pid"] and broker_pids(fresh)
    end_user(replacement)
    assert wait_for(lambda: not _shared.keeper_alive(key), 5.0)


def test_a_keeper_that_cannot_start_says_why_and_leaves_nothing() -> None:
    key = _shared.instance_key("nosuch", "test", os.urandom(4).hex())
    with pytest.raises(_shared.SharedInstanceError, match="the shared nosuch could not start: KeyError"):
        _shared.acquire(key, {"kind": "nosuch", "scope": "run"}, linger=0.0, timeout=30.0)
    assert wait_for(lambda: not instance_files(key), 10.0), f"the failed keeper left its files: {instance_files(key)}"


REUSED = """
import json, os

def test_records(redis_broker):
    with open(os.environ["RECORD_FILE"], "w") as record:
        json.dump({"port": redis_broker.endpoint.port, "prefix": redis_broker.name(""),
                   "keeper": redis_broker.server.runtime.lease.state["keeper_pid"]}, record)
"""


def test_reuse_keeps_the_broker_for_the_next_session_until_stopped(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kept_stopped: None
) -> None:
    # Its own keeper: another checkout's or the developer's own kept broker must not be touched.
    record = pytester.path / "record.json"
    monkeypatch.setenv("RECORD_FILE", str(record))
    pytester.makepyfile(REUSED)
    pytester.makeini("[pytest]\nipc_reuse = true\n")
    sessions = []
    for _ in range(2):
        pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
        sessions.append(json.loads(record.read_text()))
    assert sessions[0]["port"] == sessions[1]["port"], "the second session found the kept broker"
    assert sessions[0]["prefix"] != sessions[1]["prefix"], "each session's tests have their own prefixes"
    keeper = sessions[0]["keeper"]
    assert not gone(keeper)
    result = pytester.runpytest_subprocess("--ipc-reuse-stop")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*stopped the kept redis*"])
    assert wait_for(lambda: gone(keeper), 5.0)


def test_reuse_stops_after_its_idle_time(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kept_stopped: None) -> None:
    record = pytester.path / "record.json"
    monkeypatch.setenv("RECORD_FILE", str(record))
    pytester.makepyfile(REUSED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ipc-reuse", "--ipc-reuse-idle", "0.3")
    result.assert_outcomes(passed=1)
    keeper = json.loads(record.read_text())["keeper"]
    assert wait_for(lambda: gone(keeper), 5.0), "the kept broker outlived its idle time"


def test_a_bad_idle_time_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ipc-reuse-idle", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-reuse-idle*expected seconds*got 'soon'*"])


def test_the_broker_starts_as_soon_as_collection_shows_a_test_needs_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import os, time
            from pathlib import Path

            def redis_children():
                return [p for p in Path("/proc").glob("[0-9]*")
                        if (p / "cmdline").exists() and b"redis-server" in (p / "cmdline").read_bytes()
                        and os.getpid() in ancestors(p.name)]

            def ancestors(pid):
                found = []
                while pid not in ("0", "1"):
                    try:
                        pid = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()[1]
                    except OSError:
                        break
                    found.append(int(pid))
                return found

            def test_first_needs_no_broker():
                deadline = time.monotonic() + 10
                while not redis_children():
                    assert time.monotonic() < deadline, "no redis started before a test asked for it"
                    time.sleep(0.02)

            def test_second_uses_it(redis_broker):
                assert redis_broker.server.running
            """
        )
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


CONTROLLER_LEASE = """
import json, os
from pathlib import Path
from pytest_ipc import _shared

def test_records_the_leases(redis_broker):
    lease = redis_broker.server.runtime.lease
    holders = {int(name.split("-")[0]) for name in _shared.held_leases(lease.key)}
    with open(os.path.join(os.environ["RECORD_DIR"], f"{os.getpid()}.json"), "w") as record:
        json.dump({"controller_holds_one": os.getppid() in holders, "keeper": lease.state["keeper_pid"]}, record)
"""


def test_the_controller_starts_the_shared_broker_the_last_run_used(pytester: pytest.Pytester, record_dir: Path) -> None:
    """A first run (nothing cached) starts the shared broker from a worker; the next run's xdist
    controller starts it at session start, from the cache, and holds a lease until the run ends."""
    pytester.makepyfile(CONTROLLER_LEASE)
    share = ("-n", "2", "--ipc-brokers-share", "workers")
    pytester.runpytest_subprocess(*share).assert_outcomes(passed=1)
    (first,) = records(record_dir)
    assert not first["controller_holds_one"], "with nothing cached, the controller started a broker"
    assert json.loads((pytester.path / ".pytest_cache/v/pytest-ipc/shared-brokers").read_text()) == ["redis"]
    for path in record_dir.iterdir():
        path.unlink()

    pytester.runpytest_subprocess(*share).assert_outcomes(passed=1)
    (second,) = records(record_dir)
    assert second["controller_holds_one"], "the controller did not start the broker the last run used"
    assert wait_for(lambda: gone(second["keeper"]), 5.0), "the keeper (and its broker) outlived the run"


def test_a_broker_the_last_run_used_and_this_one_does_not_stops_with_the_run(pytester: pytest.Pytester, record_dir: Path) -> None:
    """Started from the cache for nothing (this run's tests use no broker): stopped at the run's end."""
    pytester.makepyfile(CONTROLLER_LEASE)
    share = ("-n", "2", "--ipc-brokers-share", "workers")
    pytester.runpytest_subprocess(*share).assert_outcomes(passed=1)
    pytester.makepyfile(test_other="def test_nothing():\n    pass\n")
    pytester.runpytest_subprocess(*share, "test_other.py").assert_outcomes(passed=1)

    def ours() -> list[str]:
        return [key for key, state in _shared.instances() if state.get("project") == str(pytester.path)]

    assert wait_for(lambda: not ours(), 5.0), f"a broker started from the cache outlived the run: {ours()}"


def test_a_broker_started_early_for_a_test_that_never_ran_is_stopped(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(
        """
        import os, pytest
        from pathlib import Path

        @pytest.hookimpl(trylast=True)  # after pytest-ipc's own
        def pytest_sessionfinish(session):
            mine = [p.name for p in Path("/proc").glob("[0-9]*")
                    if (p / "cmdline").exists() and b"redis-server" in (p / "cmdline").read_bytes()
                    and (p / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
            Path(os.environ["RECORD_FILE"]).write_text(",".join(mine))
        """
    )
    pytester.makepyfile(
        """
        def test_fails_first():
            assert False, "stops the session (-x)"

        def test_needs_redis(redis_broker):
            pass
        """
    )
    record = pytester.path / "record.txt"
    monkeypatch.setenv("RECORD_FILE", str(record))
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-x").assert_outcomes(failed=1)
    assert record.read_text() == "", "the early broker still ran at the end of the session"


KEPT_FAULT_PROXY = """
import json, os, signal
from pytest_ipc import _shared

def kept(request):
    project = str(request.config.rootpath)
    return [state for _, state in _shared.instances() if state["kind"] == "toxiproxy" and state["project"] == project]

def record(name, **fields):
    with open(os.path.join(os.environ["RECORD_DIR"], f"{name}.json"), "w") as out:
        json.dump(fields, out)

def test_first(toxiproxy, request):
    before = sorted(toxiproxy.client.proxies())
    proxy = toxiproxy.create_proxy("127.0.0.1:9")
    [state] = kept(request)
    record("first", url=toxiproxy.url, keeper=state["keeper_pid"], backend=state["backend"], before=before, proxy=proxy.name)

def test_second(toxiproxy):
    record("second", before=sorted(toxiproxy.client.proxies()))

def test_killed(toxiproxy):
    if os.environ.get("KILL_SESSION"):
        record("killed", proxy=toxiproxy.create_proxy("127.0.0.1:9").name)
        os.kill(os.getpid(), signal.SIGKILL)  # no teardown: the proxy stays until the keeper sees us gone
"""


def test_reuse_keeps_the_fault_proxy_and_each_test_still_starts_clean(
    pytester: pytest.Pytester, record_dir: Path, monkeypatch: pytest.MonkeyPatch, kept_stopped: None
) -> None:
    from pytest_ipc.client.client import ToxiproxyClient

    pytester.makepyfile(KEPT_FAULT_PROXY)
    pytester.makeini("[pytest]\nipc_reuse = true\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
    first = {name: json.loads((record_dir / f"{name}.json").read_text()) for name in ("first", "second")}
    monkeypatch.setenv("KILL_SESSION", "1")  # the second session dies in its last test
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == -signal.SIGKILL
    second = {name: json.loads((record_dir / f"{name}.json").read_text()) for name in ("first", "second")}
    assert first["first"]["url"] == second["first"]["url"], "the second session found the kept server"
    assert first["first"]["keeper"] == second["first"]["keeper"] and first["first"]["backend"] == "embedded"
    assert [session[name]["before"] for session in (first, second) for name in ("first", "second")] == [[]] * 4, (
        "every test starts on a server without anyone's proxies"
    )
    assert first["first"]["proxy"] != second["first"]["proxy"], "each session names its proxies apart"
    killed = json.loads((record_dir / "killed.json").read_text())["proxy"]
    with ToxiproxyClient(first["first"]["url"]) as client:
        assert wait_for(lambda: killed not in client.proxies(), 5.0), "the killed session's proxy outlived it"

    result = pytester.runpytest_subprocess("--ipc-reuse-stop")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*stopped the kept toxiproxy (embedded)*"])
    assert wait_for(lambda: gone(first["first"]["keeper"]), 5.0)


KEPT_CONTAINERS = """
import json, os
import pytest
import redis

@pytest.mark.parametrize("n", range(2))
def test_records(redis_broker, toxiproxy, n):
    client = redis.Redis.from_url(redis_broker.url)
    client.set(redis_broker.name("k"), n)
    assert client.keys(redis_broker.name("*")) == [redis_broker.name("k").encode()]  # only its own
    client.close()
    assert toxiproxy.client.proxies() == {}
    toxiproxy.create_proxy(f"{redis_broker.endpoint.host}:{redis_broker.endpoint.port}")
    state = redis_broker.server.runtime.lease.state
    with open(os.path.join(os.environ["RECORD_DIR"], f"{n}.json"), "w") as record:
        json.dump({"backend": redis_broker.server.backend, "container": state["container_id"],
                   "port": redis_broker.endpoint.port, "prefix": redis_broker.name(""), "keeper": state["keeper_pid"],
                   "toxiproxy": toxiproxy.url}, record)
"""


def container_settings() -> list[str]:
    """Redis and the fault proxy in containers (the images the environment names, else ours)."""
    from pytest_ipc import docker_engine

    images = {
        "redis": os.environ.get("PYTEST_IPC_REDIS_IMAGE", "local/redis:debian"),
        "toxiproxy": os.environ.get("PYTEST_IPC_TOXIPROXY_IMAGE", "local/toxiproxy:debian"),
    }
    reason = docker_engine.docker_unavailable_reason() or next(
        filter(None, (docker_engine.missing_image_reason(image) for image in images.values())), None
    )
    if reason is not None:
        pytest.skip(reason)
    return [setting for kind, image in images.items() for setting in (f"--ipc-{kind}-backend=container", f"--ipc-{kind}-image={image}")]


def container_exists(container_id: str) -> bool:
    import docker
    import docker.errors

    client = docker.from_env()
    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return False
    finally:
        client.close()
    return True


def toxiproxy_container(url: str) -> str:
    [state] = [state for _, state in _shared.instances() if state["kind"] == "toxiproxy" and state["url"] == url]
    return str(state["container_id"])


@pytest.mark.docker
def test_reuse_keeps_containers_for_the_next_session_until_stopped(
    pytester: pytest.Pytester, record_dir: Path, kept_stopped: None
) -> None:
    settings = container_settings()
    pytester.makepyfile(KEPT_CONTAINERS)
    sessions = []
    for _ in range(2):
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ipc-reuse", *settings).assert_outcomes(passed=2)
        sessions.append(records(record_dir))
    seen = [record for session in sessions for record in session]
    assert {record["backend"] for record in seen} == {"container"}
    assert len({(record["container"], record["port"], record["keeper"]) for record in seen}) == 1, (
        f"the second session found the kept Redis container, got {seen}"
    )
    assert len({record["prefix"] for record in seen}) == 4, "each test has its own key prefix"
    assert len({record["toxiproxy"] for record in seen}) == 1, "the second session found the kept fault proxy"
    containers = [seen[0]["container"], toxiproxy_container(seen[0]["toxiproxy"])]
    assert all(map(container_exists, containers)), "the kept containers outlived the sessions that started them"

    result = pytester.runpytest_subprocess("--ipc-reuse-stop")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*stopped the kept redis (container)*", "*stopped the kept toxiproxy (container)*"])
    assert not any(map(container_exists, containers)), "--ipc-reuse-stop left a container"


@pytest.mark.docker
def test_a_killed_keeper_leaves_no_container(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kept_stopped: None) -> None:
    settings = container_settings()[:2]  # Redis only
    pytester.makepyfile(REUSED)
    record = pytester.path / "record.json"
    monkeypatch.setenv("RECORD_FILE", str(record))
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ipc-reuse", *settings).assert_outcomes(passed=1)
    keeper = json.loads(record.read_text())["keeper"]
    [container] = [state["container_id"] for _, state in _shared.instances() if state["keeper_pid"] == keeper]
    assert container_exists(container), "the kept container outlived the session that started it"
    os.kill(keeper, signal.SIGKILL)
    assert wait_for(lambda: not container_exists(container), 30.0), "the keeper's watchdog did not remove its container"


@pytest.mark.docker
def test_xdist_workers_share_one_container_broker(pytester: pytest.Pytester, record_dir: Path) -> None:
    settings = container_settings()[:2]  # Redis only
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--ipc-brokers-share", "workers", *settings)
    result.assert_outcomes(passed=4)
    seen = records(record_dir)
    assert len({record["pid"] for record in seen}) == 2, "both workers ran tests"
    assert len({record["port"] for record in seen}) == 1, f"one container for both workers, got {seen}"
    assert len({record["prefix"] for record in seen}) == 4, "each test has its own key prefix"
    # A container's removal takes the engine seconds on a loaded machine.
    assert wait_for(lambda: gone(seen[0]["keeper"]), 30.0), "the keeper (and its container) outlived the last worker"


@pytest.mark.slow
@pytest.mark.docker
def test_per_test_users_on_a_kept_rabbitmq_container(pytester: pytest.Pytester, kept_stopped: None) -> None:
    """Administered with ``rabbitmqctl`` in the keeper's container, from the session that uses it."""
    from pytest_ipc import docker_engine

    image = os.environ.get("PYTEST_IPC_RABBITMQ_IMAGE", "local/rabbitmq:debian")
    reason = docker_engine.docker_unavailable_reason() or docker_engine.missing_image_reason(image)
    if reason is not None:
        pytest.skip(reason)
    pytester.makepyfile(
        """
        import pika

        def test_a_login_of_its_own(rabbitmq_broker):
            assert rabbitmq_broker.server.backend == "container" and rabbitmq_broker.server.runtime.lease
            user = rabbitmq_broker.user("orders", publish=["orders"])
            pika.BlockingConnection(pika.URLParameters(user.url)).close()
        """
    )
    settings = ["--ipc-reuse", "--ipc-rabbitmq-backend=container", f"--ipc-rabbitmq-image={image}"]
    pytester.runpytest_subprocess("-p", "no:cacheprovider", *settings).assert_outcomes(passed=1)
