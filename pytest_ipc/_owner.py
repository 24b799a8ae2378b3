"""Who owns a leftover: a record file that its owner holds locked (flock) for as long as it lives.

Everything a process of pytest-ipc leaves on the machine (private broker processes and their data
dirs, containers and networks, pact fragments) carries that process's `owner_token()`. The token
names a record in a per-user directory (`records_dir()`). The owner creates its record already
locked and holds the lock until it exits, so whoever can take the lock knows the owner is dead:
a lock lives on the file, not on a pid, so neither pid reuse nor PID namespaces nor a shared
hostname can fool it. The owner's watchdog (`pytest_ipc._lifecycle`) waits on that lock and reaps
what the owner left the moment it dies; any later session reaps records nobody holds.

A token is ``<id>-<place>``: a random id and the identity (device, inode) of the records directory.
A process that sees another records directory under that path (a container with its own /dev/shm)
cannot judge the token and never touches what carries it.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import stat
import tempfile
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from pytest_ipc._errors import IpcError

#: The environment variable that marks a private process (and its children) with its owner's token.
OWNER_VARIABLE = "PYTEST_IPC_OWNER_TOKEN"
#: Private directories are named ``<DIR_PREFIX><token>-<label>-<random>``.
DIR_PREFIX = "pytest-ipc-local-"
#: The Docker label that ties a container or network to its owner.
OWNER_LABEL = "pytest-ipc.owner"
RECORD_SUFFIX = ".owner"
SHARED_MEMORY = Path("/dev/shm")


class OwnershipError(IpcError):
    """The records directory is not a private directory of this user; the message says which path."""


def records_dir(create: bool = True) -> Path | None:
    """The per-user directory of owner records: in /dev/shm (shared by every PID namespace that
    shares the mount), else in the temp dir. None when it does not exist and `create` is False."""
    base = (
        SHARED_MEMORY if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK) else Path(tempfile.gettempdir())
    )
    path = base / f"pytest-ipc-{os.getuid()}"
    if create:
        path.mkdir(mode=0o700, exist_ok=True)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OwnershipError(f"{path} is not a private directory of uid {os.getuid()}; remove it and run again")
    return path


def _place(directory: Path) -> str:
    """Which directory this is, whatever path reaches it (its device and inode)."""
    info = directory.stat()
    return f"{info.st_dev:x}.{info.st_ino:x}"


def _read_fields(fd: int) -> dict[str, Any]:
    """A record's fields: the first line of the file (an update may leave a longer old tail)."""
    line = os.pread(fd, 1 << 16, 0).split(b"\n", 1)[0]
    try:
        fields = json.loads(line)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


class OwnerRecord:
    """This process's record, created locked; `note_engine` adds what a reaper must visit."""

    def __init__(self) -> None:
        directory = records_dir()
        assert directory is not None  # created just now
        owner_id = os.urandom(8).hex()  # what secrets.token_hex does, without loading hmac and hashlib
        self.token = f"{owner_id}-{_place(directory)}"
        self.path = directory / f"{owner_id}{RECORD_SUFFIX}"
        self.pid = os.getpid()
        self.holds_resources = False  # set by the watchdog's start: then only a reaper may remove the record
        self._tmp = tempfile.gettempdir()
        self._tmp_place = _place(Path(self._tmp))  # the directory it was then, should the path change
        self._engines: list[str] = []
        self._shared: list[str] = []
        # Created under another name and renamed once locked: a sweeper never sees it unlocked.
        staging = directory / f".{owner_id}.new"
        self._fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._write()
        os.rename(staging, self.path)

    @property
    def tmp(self) -> Path:
        """Where this owner's private dirs go (the temp dir when the record was made)."""
        return Path(self._tmp)

    def note_engine(self, docker_host: str) -> None:
        """Record a Docker engine before the first container or network is created on it."""
        if docker_host not in self._engines:
            self._engines.append(docker_host)
            self._write()

    def note_shared(self, key: str) -> None:
        """Record the shared instance this process keeps (`pytest_ipc._shared`), whose files a reaper removes."""
        if key not in self._shared:
            self._shared.append(key)
            self._write()

    @property
    def fields(self) -> dict[str, Any]:
        """What a reaper reads in the record: where this owner's dirs are, which engines it used, which
        shared instances it kept."""
        return {
            "pid": self.pid, "tmp": self._tmp, "tmp_place": self._tmp_place, "engines": list(self._engines), "shared": list(self._shared)
        }

    def _write(self) -> None:
        content = json.dumps(self.fields).encode() + b"\n"
        os.pwrite(self._fd, content, 0)
        os.ftruncate(self._fd, len(content))

    def sign_off(self) -> None:
        """At a clean exit: remove the record, unless something private may be left (then the
        watchdog, or a later session, reaps and removes it)."""
        if not self.holds_resources and self.pid == os.getpid() and self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


_record: OwnerRecord | None = None
_record_lock = threading.Lock()


def owner() -> OwnerRecord:
    """This process's record, created on first use (a forked child gets a record of its own)."""
    global _record
    with _record_lock:
        if _record is None:
            _record = OwnerRecord()
        return _record


def owner_token() -> str:
    """The token that this process puts on everything it leaves on the machine."""
    return owner().token


def _forget_after_fork() -> None:
    """A forked child must not keep its parent's lock alive, nor pass off as its parent."""
    global _record, _record_lock
    _record_lock = threading.Lock()  # another thread may have held it at the fork
    if _record is not None and _record._fd >= 0:
        os.close(_record._fd)
    _record = None


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register  # before any module that imports this one registers its own: it runs after them
def _sign_off() -> None:
    if _record is not None:
        _record.sign_off()


def owner_alive(token: str) -> bool:
    """False only when the owner of `token` is provably dead: its record, in the records directory
    we see, is gone or unlocked. A token of another records directory counts as alive."""
    owner_id, _, place = token.partition("-")
    directory = records_dir(create=False)
    if directory is None or not owner_id.isalnum() or place != _place(directory):
        return True
    return lock_held(directory / f"{owner_id}{RECORD_SUFFIX}")


def lock_held(path: Path) -> bool:
    """True while a living process holds `path` locked (flock dies with its holder); False when the
    file is gone or unlocked. The one test of liveness by lock: owners' records, shared instances."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock we may have taken
    return False


class DeadOwner:
    """The record of a dead owner, locked by us while we reap what it left."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.token = f"{path.name.removesuffix(RECORD_SUFFIX)}-{_place(path.parent)}"
        self.fields = _read_fields(fd)
        self._fd = fd

    def release(self, reaped: bool) -> None:
        """Remove the record once everything of its owner is gone, else keep it for a later try
        with what is still to do (`fields`, rewritten)."""
        if reaped:
            self.path.unlink(missing_ok=True)
        else:
            content = json.dumps(self.fields).encode() + b"\n"
            os.pwrite(self._fd, content, 0)
            os.ftruncate(self._fd, len(content))
        os.close(self._fd)


def _claim(path: Path, wait: bool) -> DeadOwner | None:
    """Lock the record at `path` (waiting for its owner to die when `wait`); None when it is
    held, gone, or was removed by its owner at a clean exit meanwhile."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if os.fstat(fd).st_nlink == 0:  # signed off (or reaped by someone else) while we waited
        os.close(fd)
        return None
    return DeadOwner(path, fd)


def dead_owners() -> Iterator[DeadOwner]:
    """Records whose owner is dead, each locked for the caller until it calls `release`."""
    directory = records_dir(create=False)
    if directory is None:
        return
    with os.scandir(directory) as entries:
        paths = [Path(entry.path) for entry in entries if entry.name.endswith(RECORD_SUFFIX)]
    for path in paths:
        claim = _claim(path, wait=False)
        if claim is not None:
            yield claim


def wait_for_death(path: Path) -> DeadOwner | None:
    """Block until the owner of the record at `path` dies; None if it signed off cleanly."""
    return _claim(path, wait=True)


def token_of_dir(path: Path) -> str | None:
    """The owner token in a private directory's name (or in that of a directory it is inside)."""
    for part in path.parts:
        if part.startswith(DIR_PREFIX):
            owner_id, _, rest = part[len(DIR_PREFIX) :].partition("-")
            place = rest.partition("-")[0]
            if owner_id and place:
                return f"{owner_id}-{place}"
    return None


def marked_processes(tokens: Collection[str] | None = None) -> dict[int, str]:
    """Running processes that carry a token (of `tokens`, or any), with that token.

    A process carries one in its environment (`OWNER_VARIABLE`, inherited by its children) or in
    its working directory, a private dir (Redis overwrites its environment block with its process
    title). Zombies have neither; processes of other users cannot be read and are not ours.
    """
    marker = f"{OWNER_VARIABLE}=".encode()
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            workdir = os.readlink(proc / "cwd")
        except OSError:
            continue
        token = next(
            (
                entry[len(marker) :].decode(errors="replace")
                for entry in environ.split(b"\0")
                if entry.startswith(marker)
            ),
            None,
        ) or token_of_dir(Path(workdir))
        if token is not None and (tokens is None or token in tokens):
            found[int(proc.name)] = token
    return found


def same_place(path: Path, place: str) -> bool:
    """True when `path` is the directory whose identity is `place` (the same one an owner saw)."""
    try:
        return _place(path) == place
    except OSError:
        return False


__all__ = [
    "DIR_PREFIX",
    "OWNER_LABEL",
    "OWNER_VARIABLE",
    "DeadOwner",
    "OwnerRecord",
    "OwnershipError",
    "dead_owners",
    "marked_processes",
    "owner",
    "owner_alive",
    "owner_token",
    "records_dir",
    "same_place",
    "token_of_dir",
    "wait_for_death",
]
