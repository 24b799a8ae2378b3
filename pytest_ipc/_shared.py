"""Instances shared between processes: found through a state file, kept alive by leases.

One owner for both kinds of sharing: the xdist workers of one test run share a broker (the key
carries the run's uid; it stops when the last worker is done), and successive sessions on one
machine find a broker or fault proxy kept warm (``--ipc-reuse``; it stops after an idle time or on
request). What a keeper runs is a local broker, a broker in a container, or the fault proxy's server
(embedded or in a container): ``recipe["kind"]`` and ``recipe["backend"]`` say which.

For an instance with key K, in the per-user directory `shared_dir()`:

- ``K.lock``: taken (flock) for the few steps that must not interleave: find the state, add a lease,
  spawn a keeper, or decide to stop;
- ``K.keeper``: held locked by the keeper process for as long as it lives (the lock is on the file,
  so neither pid reuse nor a PID namespace can fool a liveness check);
- ``K.json``: what the keeper started (written once it serves): where it listens, its login;
- ``K.leases/<pid>-<random>``: one per user process, held locked by it while it uses the instance.

The keeper is a small process in a session of its own (``python -S -m pytest_ipc._shared``): it
starts the instance (through the process lifecycle: its own owner record and watchdog, so a killed
keeper leaves nothing: its processes and directories, and its containers, which carry the keeper's
owner label, not the label of the session that asked for them), serves it, and stops it when no
lease has been held for `linger` seconds, or at SIGTERM (``--ipc-reuse-stop``). A killed user
process frees its lease with its death; a killed starter does not matter, the keeper is not its
child in any way that counts. The instance hears of each lease that goes (`Kept.released`), so that
what a killed user left on it (a fault proxy's proxies) goes too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pytest_ipc._errors import IpcError
from pytest_ipc._owner import OWNER_VARIABLE, lock_held, owner, records_dir

POLL_INTERVAL = 0.02  # how often a keeper looks at its leases, a user at the keeper's start
READY_TIMEOUT = 180.0  # a RabbitMQ boot on a loaded machine
STATE_SUFFIX = ".json"


class SharedInstanceError(IpcError):
    """A shared instance could not be started or found; the message carries the keeper's reason."""


def shared_dir() -> Path:
    """The per-user directory of shared instances (next to the owner records: a runtime dir)."""
    base = records_dir()
    assert base is not None  # created just now
    path = base / "shared"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def instance_key(*parts: str) -> str:
    """A file-name-safe key for an instance described by `parts` (kind, scope, settings)."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return f"{parts[0]}-{digest}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold `path` locked; a keeper that stops removes the file under the lock, so a lock taken on
    a file that is no longer at `path` is dropped and taken again on the new one."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = -1
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def read_state(key: str) -> dict[str, Any] | None:
    """The keeper's state of `key`, None before it serves (or once it stops)."""
    try:
        state = json.loads((shared_dir() / f"{key}{STATE_SUFFIX}").read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def keeper_alive(key: str) -> bool:
    """True while the keeper of `key` lives."""
    return lock_held(shared_dir() / f"{key}.keeper")


def _write_state(key: str, state: dict[str, Any]) -> None:
    directory = shared_dir()
    staging = directory / f".{key}.{os.getpid()}.new"
    staging.write_text(json.dumps(state))
    os.chmod(staging, 0o600)
    os.rename(staging, directory / f"{key}{STATE_SUFFIX}")


class Lease:
    """This process's use of a shared instance: `state` says where it is; `release` when done
    (a process that dies releases it with its death)."""

    def __init__(self, key: str, path: Path, fd: int) -> None:
        self.key = key
        self.path = path
        self.state: dict[str, Any] = {}
        self.started_here = False  # this process spawned the keeper
        self.id = path.name  # what this user's things on the instance carry (see `Kept.released`)
        self._fd = fd
        self._pid = os.getpid()

    def release(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            if not keeper_alive(self.key):  # a killed keeper's reaper left what this lease kept from going
                remove_files(self.key, unless_kept=True)
        self._fd = -1


def _new_lease(key: str) -> Lease:
    leases = shared_dir() / f"{key}.leases"
    leases.mkdir(mode=0o700, exist_ok=True)
    path = leases / f"{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return Lease(key, path, fd)


def live_leases(key: str) -> int:
    """How many leases of `key` are held; removes those whose user died."""
    return len(held_leases(key))


def held_leases(key: str) -> set[str]:
    """The ids of the leases of `key` that are held; removes those whose user died."""
    leases = shared_dir() / f"{key}.leases"
    held = set()
    with contextlib.suppress(FileNotFoundError), os.scandir(leases) as entries:
        for entry in list(entries):
            if lock_held(Path(entry.path)):
                held.add(entry.name)
            else:
                Path(entry.path).unlink(missing_ok=True)
    return held


def acquire(key: str, recipe: dict[str, Any], linger: float, timeout: float = READY_TIMEOUT) -> Lease:
    """A lease on instance `key`: the running one, or one that a keeper started now from `recipe`
    (``recipe["kind"]`` names what the keeper starts). Returns once the instance serves."""
    directory = shared_dir()
    deadline = time.monotonic() + timeout
    while True:
        with _locked(directory / f"{key}.lock"):
            lease = _new_lease(key)  # before a keeper exists: it never sees an instance without users
            if not keeper_alive(key):
                (directory / f"{key}{STATE_SUFFIX}").unlink(missing_ok=True)  # a killed keeper's
                _spawn_keeper(key, recipe, linger)
                lease.started_here = True
        try:
            state = _wait_for_state(key, recipe, lease, deadline, timeout)
        except BaseException:
            lease.release()
            raise
        if state is not None:
            lease.state = state
            return lease
        lease.release()  # we came as its keeper was stopping: start anew


def _wait_for_state(key: str, recipe: dict[str, Any], lease: Lease, deadline: float, timeout: float) -> dict[str, Any] | None:
    """The keeper's state once it serves; None when a keeper that we did not start stopped."""
    while (state := read_state(key)) is None:
        if not keeper_alive(key):
            if lease.started_here:
                raise SharedInstanceError(
                    f"the keeper of the shared {recipe['kind']} exited before it served (see {shared_dir() / key}.log)"
                )
            return None
        if time.monotonic() > deadline:
            raise SharedInstanceError(f"the shared {recipe['kind']} did not serve within {timeout} s")
        time.sleep(POLL_INTERVAL)
    if "error" in state:
        raise SharedInstanceError(f"the shared {recipe['kind']} could not start: {state['error']}")
    return state


def _spawn_keeper(key: str, recipe: dict[str, Any], linger: float) -> None:
    """Start the keeper with the keeper lock already taken (its open file is inherited as fd 3, so
    the lock is the keeper's from the first instant: nobody can start a second one meanwhile)."""
    directory = shared_dir()
    keeper_fd = os.open(directory / f"{key}.keeper", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(keeper_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        package_parent = Path(__file__).resolve().parent.parent
        search_path = os.pathsep.join([str(package_parent), *(os.path.abspath(entry) for entry in sys.path)])
        log = directory / f"{key}.log"
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, keeper_fd, 3),
        ]
        # Not marked with the starter's owner token: the starter's watchdog must not end what others use.
        environment = {name: value for name, value in os.environ.items() if name != OWNER_VARIABLE}
        os.posix_spawn(
            sys.executable,
            [sys.executable, "-S", "-m", __name__, key, json.dumps(recipe), repr(linger)],
            {**environment, "PYTHONPATH": search_path},
            file_actions=actions,
            setsid=True,
        )
    finally:
        os.close(keeper_fd)


def instances() -> list[tuple[str, dict[str, Any]]]:
    """The instances whose keeper lives: (key, state)."""
    found = []
    for path in sorted(shared_dir().glob(f"*{STATE_SUFFIX}")):
        key = path.name.removesuffix(STATE_SUFFIX)
        if keeper_alive(key) and (state := read_state(key)) is not None:
            found.append((key, state))
    return found


def stop(key: str, timeout: float = 30.0) -> bool:
    """Ask the keeper of `key` to stop its instance now (leases or not); True once it is gone."""
    state = read_state(key)
    if state is None or not keeper_alive(key):
        return True
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(int(state["keeper_pid"]), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while keeper_alive(key) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
    return not keeper_alive(key)


# -- the keeper ---------------------------------------------------------------------------------


class Kept:
    """What a keeper runs: `state` (JSON) tells users where it is; `stop` ends it."""

    state: dict[str, Any]

    def released(self, lease_ids: set[str]) -> None:
        """The users of these leases are done (gave them back, or died): what they left can go."""

    def stop(self) -> None: ...


def _start_kept(key: str, recipe: dict[str, Any]) -> Kept:
    """What the recipe names, started in the keeper: the fault proxy's server (``kind`` toxiproxy),
    else a broker of ``recipe["kind"]`` on ``recipe["backend"]`` (local or container)."""
    if recipe["kind"] == "toxiproxy":
        from pytest_ipc.backends.toxiproxy_shared import keep_toxiproxy

        return keep_toxiproxy(key, recipe)
    from pytest_ipc.backends.broker_shared import keep_broker

    return keep_broker(key, recipe)


def keep(key: str, recipe: dict[str, Any], linger: float) -> None:
    """The keeper: start the instance, serve it while leases are held (or for `linger` seconds after
    the last one), then stop it."""
    os.chdir("/")
    os.set_inheritable(3, False)  # the keeper lock: no child (the watchdog, the broker) may hold it
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    owner().note_shared(key)  # so that the watchdog removes this instance's files if the keeper is killed
    try:
        kept = _start_kept(key, recipe)
    except Exception as error:
        _write_state(key, {"error": f"{type(error).__name__}: {error}"})
        deadline = time.monotonic() + READY_TIMEOUT
        while held_leases(key) and time.monotonic() < deadline:  # every waiting user reads it and lets go
            time.sleep(POLL_INTERVAL)
        remove_files(key)
        return
    try:
        about = {"scope": recipe.get("scope"), "project": recipe.get("project"), "keeper_pid": os.getpid()}
        _write_state(key, {**kept.state, **about})
        idle_since: float | None = None
        users: set[str] = set()
        while not stopping.wait(POLL_INTERVAL):
            now = held_leases(key)
            if users - now:
                try:
                    kept.released(users - now)
                except Exception as error:  # a failed clean-up must not end what others use
                    print(f"clean-up after {sorted(users - now)} failed: {error!r}", file=sys.stderr, flush=True)
            users = now
            if users:
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= linger:
                with _locked(shared_dir() / f"{key}.lock"):
                    if not live_leases(key):  # nobody took a lease meanwhile: nobody can now
                        (shared_dir() / f"{key}{STATE_SUFFIX}").unlink(missing_ok=True)
                        break
    finally:
        (shared_dir() / f"{key}{STATE_SUFFIX}").unlink(missing_ok=True)
        kept.stop()
        remove_files(key)


def remove_files(key: str, unless_kept: bool = False) -> None:
    """The instance's files, once it is stopped (under its lock: a user arriving now starts anew);
    with `unless_kept`, left alone if a keeper of `key` lives (a killed keeper's reaper, after a new
    keeper took the key over)."""
    directory = shared_dir()
    with _locked(directory / f"{key}.lock"):
        if unless_kept and keeper_alive(key):
            return
        for suffix in (STATE_SUFFIX, ".keeper", ".sock", ".log"):
            (directory / f"{key}{suffix}").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (directory / f"{key}.leases").rmdir()  # kept if a user is adding a lease
        (directory / f"{key}.lock").unlink(missing_ok=True)


def serve_lines(path: Path, answer: Callable[[str], str]) -> socket.socket:
    """A Unix socket at `path` that answers each line with `answer(line)` (a thread per client)."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)

    def client(connection: socket.socket) -> None:
        with connection, connection.makefile("rwb") as stream:
            for line in stream:
                stream.write(answer(line.decode().rstrip("\n")).encode() + b"\n")
                stream.flush()

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed at stop
            threading.Thread(target=client, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


__all__ = [
    "Kept",
    "Lease",
    "SharedInstanceError",
    "acquire",
    "held_leases",
    "instance_key",
    "instances",
    "keep",
    "keeper_alive",
    "live_leases",
    "read_state",
    "serve_lines",
    "shared_dir",
    "stop",
]


if __name__ == "__main__":
    keep(sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]))
