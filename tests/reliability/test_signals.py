"""SIGTERM, SIGHUP and SIGKILL to a session, or to one of its xdist workers, while it holds private
brokers: afterwards the machine holds nothing of it (no process, listener, data dir, watchdog or
owner record). SIGTERM and SIGHUP unwind like Ctrl-C; after SIGKILL the killed process's watchdog
reaps, and when the watchdog is killed too, the next session of any kind does.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from pytest_ipc._lifecycle import HANDLED_SIGNALS
from tests.reliability.sessions import Session, holding_session, owners_holding, wait_until_clean

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

FAST_BROKERS = ("redis_server", "nats_server", "mqtt_server")
#: What a session's teardown removes (its process, watchdog and owner record go when it exits).
TORN_DOWN = ("processes", "dirs", "listeners")
LOCAL = tuple(f"--ipc-{kind}-backend=local" for kind in ("rabbitmq", "redis", "nats", "mqtt"))


def local_session(pytester: pytest.Pytester, brokers: tuple[str, ...], *args: str) -> Session:
    """Brokers from the local backend; each owner really runs them (processes, dirs)."""
    return holding_session(pytester, brokers, *LOCAL, *args)


def local_owners(session: Session, count: int = 1) -> list[dict[str, Any]]:
    """The owners holding brokers; they really run them (processes in private dirs)."""
    owners = owners_holding(session, count)
    for owner in owners:
        assert owner["pids"] and owner["dirs"], owner
    return owners


@pytest.mark.parametrize("signum", HANDLED_SIGNALS, ids=lambda signum: signum.name)
def test_a_signalled_session_tears_down_like_ctrl_c(pytester: pytest.Pytester, signum: signal.Signals) -> None:
    session = local_session(pytester, FAST_BROKERS, "-k", "holds_brokers and 0")
    [owner] = local_owners(session)
    session.process.send_signal(signum)
    result = session.finish()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*KeyboardInterrupt: {signum.name} received; torn down as after Ctrl-C*"])
    result.stdout.fnmatch_lines(["*conftest.py:*: KeyboardInterrupt*"])  # where it was, not our handler
    assert wait_until_clean([owner]) == {}
    session.assert_no_temp_dirs()


def test_a_sigkilled_sessions_watchdog_reaps_at_once(pytester: pytest.Pytester) -> None:
    session = local_session(pytester, FAST_BROKERS, "-k", "holds_brokers and 0")
    [owner] = local_owners(session)
    session.process.send_signal(signal.SIGKILL)
    session.finish()
    assert wait_until_clean([owner]) == {}
    session.assert_no_temp_dirs()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=lambda signum: signum.name)
def test_rabbitmq_and_its_vm_go_with_their_session(pytester: pytest.Pytester, signum: signal.Signals) -> None:
    """RabbitMQ's wrapper forks the Erlang VM, which starts helpers of its own; a private epmd and
    the control node run next to it. SIGKILL leaves all of it to the watchdog (SIGTERM, then SIGKILL)."""
    session = local_session(pytester, ("rabbitmq_server", *FAST_BROKERS), "-k", "holds_brokers and 0")
    [owner] = local_owners(session)
    assert len(owner["pids"]) >= 6, owner  # epmd, control node, the node (wrapper, VM), 3 fast brokers
    session.process.send_signal(signum)
    session.finish()
    assert wait_until_clean([owner]) == {}
    session.assert_no_temp_dirs()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [*HANDLED_SIGNALS, signal.SIGKILL], ids=lambda signum: signum.name)
def test_one_signalled_xdist_worker_leaves_nothing(pytester: pytest.Pytester, signum: signal.Signals) -> None:
    session = local_session(pytester, FAST_BROKERS, "-n", "2", "-k", "holds_brokers")
    owners = local_owners(session, count=2)
    victim = owners[0]
    os.kill(victim["pid"], signum)
    if signum != signal.SIGKILL:  # the worker process itself lives until the controller lets it go
        assert wait_until_clean([victim], kinds=TORN_DOWN) == {}, "the worker tears down before the session ends"
    session.release()
    result = session.finish()

    if signum == signal.SIGKILL:
        result.stdout.fnmatch_lines(["*worker*crashed*"])  # the session carried on without it
    else:
        assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
        result.stdout.fnmatch_lines(["*received keyboard-interrupt*"])
    assert wait_until_clean(session.records_of("owner")) == {}
    session.assert_no_temp_dirs()


@pytest.mark.slow
def test_sigterm_to_the_xdist_controller_alone_stops_the_workers_cleanly(pytester: pytest.Pytester) -> None:
    """Only the controller is signalled (as by `docker stop` of a container running pytest): it
    unwinds, and xdist's own shutdown of the workers tears theirs down."""
    session = local_session(pytester, FAST_BROKERS, "-n", "2", "-k", "holds_brokers")
    owners = local_owners(session, count=2)
    session.process.send_signal(signal.SIGTERM)
    result = session.finish()
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    assert wait_until_clean(owners) == {}
    session.assert_no_temp_dirs()


def test_when_the_watchdog_dies_too_the_next_session_of_any_kind_reaps(pytester: pytest.Pytester) -> None:
    session = local_session(pytester, FAST_BROKERS, "-k", "holds_brokers and 0")
    [owner] = local_owners(session)
    os.kill(owner["watchdog"], signal.SIGKILL)
    session.process.send_signal(signal.SIGKILL)
    session.finish()
    orphans = wait_until_clean([owner], timeout=0)
    if orphans:  # nobody reaps them until a session starts
        assert set(orphans) >= {f"{owner['token']} processes"}, orphans
        session.run_next_session("-k", "test_nothing").assert_outcomes(passed=1)  # no fixture at all
    # else a session of this suite, running beside this test under xdist, started and reaped them first
    assert wait_until_clean([owner], timeout=0) == {}
    session.assert_no_temp_dirs()


DISPOSITION_CONFTEST = """
import atexit, json, os, signal

signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup: the plugin must leave it alone

def disposition(signum):
    handler = signal.getsignal(signum)
    return handler.name if isinstance(handler, signal.Handlers) else getattr(handler, "__module__", "?")

def dispositions():
    return {signum.name: disposition(signum) for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}

@atexit.register
def at_exit():
    with open(os.environ["IPC_RECORDS"] + "/at-exit.json", "w") as file:
        json.dump(dispositions(), file)
"""

DISPOSITION_TESTS = """
import json, os
from conftest import dispositions

def test_records_dispositions():
    with open(os.environ["IPC_RECORDS"] + "/during.json", "w") as file:
        json.dump(dispositions(), file)
"""


def test_handlers_go_only_where_the_default_was_and_are_put_back(pytester: pytest.Pytester) -> None:
    session = Session(pytester, DISPOSITION_CONFTEST, DISPOSITION_TESTS)
    session.finish().assert_outcomes(passed=1)
    during = (session.records / "during.json").read_text()
    at_exit = (session.records / "at-exit.json").read_text()
    assert during == '{"SIGTERM": "pytest_ipc._lifecycle", "SIGHUP": "SIG_IGN", "SIGINT": "_signal"}'
    assert at_exit == '{"SIGTERM": "SIG_DFL", "SIGHUP": "SIG_IGN", "SIGINT": "_signal"}'
