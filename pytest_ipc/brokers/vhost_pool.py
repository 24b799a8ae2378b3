"""A pool of RabbitMQ vhosts that are emptied and handed out again instead of deleted.

Creating a vhost costs the node 40-150 ms (a message store and a supervisor tree per vhost); emptying
one costs a few milliseconds. So each test leases a vhost from the pool and gives it back; in the
background the pool removes the holder's login (a new one is made for every lease, so a client left
over from an earlier test can never log in again), closes every connection in the vhost, deletes
what the test left there and verifies that nothing is left before the vhost can be leased again. A
vhost that cannot be verified clean is retired (deleted) and replaced by a new one. Every vhost and
login of the pool is deleted when the pool is closed.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Login:
    username: str
    password: str


@dataclass(frozen=True)
class PoolVhost:
    """A vhost of the pool and the login that is, while the vhost is leased, its only user."""

    name: str
    login: Login


class VhostAdmin(Protocol):
    """What the pool needs from a broker's administration interface (Erlang, management HTTP API)."""

    def create(self, vhosts: Sequence[PoolVhost]) -> None:
        """Create the vhosts, empty, each with its login as its only user (in parallel if possible)."""

    def recycle(self, used: PoolVhost, fresh: Login) -> list[str]:
        """Delete the used login, close every connection in the vhost and delete everything in it;
        then, if nothing is left, make `fresh` its only user. Returns what is left ([] when clean)."""

    def delete(self, vhosts: Mapping[str, Collection[str]]) -> None:
        """Delete these vhosts and, for each, these usernames (any of them may be gone already)."""

    def close(self) -> None:
        """Release what the administration itself holds (its HTTP connections)."""


@dataclass(frozen=True)
class Retirement:
    """A vhost deleted instead of recycled, and the kinds of things its recycle could not remove."""

    vhost: str
    leftovers: list[str]


class VhostPool:
    """Vhosts leased one per test; given back, they are recycled in the background (one at a time).

    New vhosts are created only when no vhost is free or being recycled (the first lease creates
    `minimum` at once, so that the next test finds one while the first one's vhost is recycled); a
    lease waits for a recycle still under way rather than create one.
    """

    def __init__(self, admin: VhostAdmin, minimum: int = 2) -> None:
        self._admin = admin
        self._minimum = minimum
        self._prefix = f"ipc_{secrets.token_hex(4)}"
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._returned: deque[Future[PoolVhost]] = deque()  # oldest first: the first to be clean
        self._usernames: dict[str, set[str]] = {}  # every vhost not yet deleted -> logins it may have
        self._recycler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pytest-ipc-vhosts")
        self.retired: list[Retirement] = []
        self.failures: list[BaseException] = []  # recycles that raised (the broker was down...)

    def lease(self) -> PoolVhost:
        """A clean vhost: a returned one once its recycle is verified, else a new one."""
        while True:
            with self._lock:
                returned = self._returned.popleft() if self._returned else None
            if returned is None:
                return self._create_now()
            try:
                return returned.result()
            except Exception as error:  # that vhost stays out of use; it is deleted at close()
                self.failures.append(error)

    def give_back(self, vhost: PoolVhost) -> None:
        with self._lock:
            self._returned.append(self._recycler.submit(self._recycle, vhost))

    def close(self) -> None:
        """Wait for recycles under way, then delete every vhost and login of the pool."""
        self._recycler.shutdown(wait=True)
        with self._lock:
            remaining = {name: set(usernames) for name, usernames in self._usernames.items()}
            self._usernames.clear()
            self._returned.clear()
        try:
            if remaining:
                self._admin.delete(remaining)
        finally:
            self._admin.close()

    def _create_now(self) -> PoolVhost:
        with self._lock:
            first = not self._usernames
        created = self._create(self._minimum if first else 1)
        with self._lock:
            for spare in created[1:]:
                done: Future[PoolVhost] = Future()
                done.set_result(spare)
                self._returned.append(done)
        return created[0]

    def _create(self, count: int) -> list[PoolVhost]:
        vhosts = []
        for _ in range(count):
            name = f"{self._prefix}_{next(self._numbers)}"
            vhosts.append(PoolVhost(name, self._new_login(name)))
        with self._lock:
            self._usernames.update({vhost.name: {vhost.login.username} for vhost in vhosts})
        self._admin.create(vhosts)
        return vhosts

    def _new_login(self, vhost: str) -> Login:
        return Login(f"{vhost}-{secrets.token_hex(4)}", secrets.token_hex(16))

    def _recycle(self, used: PoolVhost) -> PoolVhost:
        fresh = self._new_login(used.name)
        with self._lock:
            self._usernames[used.name] = {used.login.username, fresh.username}
        leftovers = self._admin.recycle(used, fresh)
        if not leftovers:
            with self._lock:
                self._usernames[used.name] = {fresh.username}
            return PoolVhost(used.name, fresh)
        self.retired.append(Retirement(used.name, leftovers))
        with self._lock:
            usernames = set(self._usernames[used.name])
        self._admin.delete({used.name: usernames})
        with self._lock:
            del self._usernames[used.name]
        return self._create(1)[0]
