"""`StubGroup`: N instances of one service behind one logical name, each an `HttpStub` of its own.

Instance `i` listens on its own loopback address (127.0.0.10 + i) and all of a test's instances on
the same port, the way a service's replicas sit behind one DNS name: an A record per instance, one
port in the URL (`url` is ``http://<service>:<port>`` once the group has a name in `ipc_dns`).
Each instance keeps the stub's whole API: its own routes (an API version per instance), faults
(`faults.inject(fault, into=group[1])`), latency and journal; `expect()` and `inject()` on the
group apply to every instance. The resilience assertions read the instances' journals
(`pytest_ipc.resilience.instances`).

The instances are the session's (`StubGroupPool`), started once and handed to tests like
`http_stub`: a test's group begins clean and ends with its connections closed; the ports move
together between tests, so a late request reaches an ended test's port and is reported as that
test's (see `HttpStub.end_test`).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.faults.vocabulary import Fault
from pytest_ipc.stub.embedded import EmbeddedServer
from pytest_ipc.stub.journal import JournalEntry
from pytest_ipc.stub.matchers import NOT_GIVEN, Expected, QueryExpected
from pytest_ipc.stub.routes import Route
from pytest_ipc.stub.server import HttpStub

if TYPE_CHECKING:
    from pytest_ipc.discovery.server import DnsServer

FIRST_ADDRESS = 10  # instance i listens on 127.0.0.(10 + i): clear of 127.0.0.1, where everything else is
MAX_INSTANCES = 64
MOVE_ATTEMPTS = 10  # a port free on the first instance's address may be taken on another's


class StubGroupError(IpcUsageError):
    """A group asked for what it cannot be (too many instances, a name without a DNS server...)."""


def instance_host(index: int) -> str:
    """The loopback address instance `index` of a group listens on."""
    return f"127.0.0.{FIRST_ADDRESS + index}"


class GroupRoute:
    """One route on every instance of a group: set it up once (`respond`, `inject`...); `[i]` is instance i's."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)

    def __getitem__(self, index: int) -> Route:
        return self.routes[index]

    def __len__(self) -> int:
        return len(self.routes)

    def respond(self, **reply: Any) -> GroupRoute:
        """Every instance answers this (the arguments of `Route.respond`)."""
        for route in self.routes:
            route.respond(**reply)
        return self

    def inject(self, *faults: Fault | str) -> GroupRoute:
        """These faults on the route of every instance (each instance draws for itself)."""
        for route in self.routes:
            route.inject(*faults)
        return self

    @property
    def name(self) -> str:
        return self.routes[0].name


class StubGroup:
    """A service of `len(group)` instances; `group[i]` is instance i's `HttpStub`.

    `port` is the one port every instance listens on this test, `hosts` their addresses. With a
    `service` name registered in a `DnsServer` (`http_stub_group(n, service="orders")`), `url` is
    ``http://orders.ipc.test:<port>``; `urls` are the instances' own.
    """

    def __init__(self, instances: Sequence[HttpStub]) -> None:
        if not instances:
            raise StubGroupError("a stub group needs at least one instance")
        self.instances = tuple(instances)
        self.service: str | None = None
        self.dns: DnsServer | None = None

    # -- the instances ---------------------------------------------------------------------------
    def __getitem__(self, index: int) -> HttpStub:
        return self.instances[index]

    def __len__(self) -> int:
        return len(self.instances)

    def __iter__(self) -> Iterator[HttpStub]:
        return iter(self.instances)

    @property
    def port(self) -> int:
        """The port every instance listens on in this test."""
        return self.instances[0].port

    @property
    def hosts(self) -> list[str]:
        return [stub.host for stub in self.instances]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of each instance, in instance order."""
        return [(stub.host, stub.port) for stub in self.instances]

    @property
    def urls(self) -> list[str]:
        return [stub.url for stub in self.instances]

    @property
    def url(self) -> str:
        """``http://<service>:<port>``: the logical name clients resolve (needs `register`)."""
        if self.service is None:
            raise StubGroupError(
                "this group has no service name: ask for one with http_stub_group(n, service='orders') (which serves it "
                "from ipc_dns), or call each instance by group.urls"
            )
        return f"http://{self.service}:{self.port}"

    def url_for(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"url_for needs a path starting with '/', got {path!r}")
        return self.url + path

    def index_of(self, host: str, port: int | None = None) -> int:
        """Which instance listens on `host` (and `port`); ValueError naming the instances if none."""
        for index, stub in enumerate(self.instances):
            if stub.host == host and (port is None or stub.port == port):
                return index
        raise ValueError(f"no instance of the group listens on {host}:{port}; instances: {self.addresses}")

    def describe(self, index: int) -> str:
        """How messages name instance `index`: "instance 1 (127.0.0.11:40213)"."""
        host, port = self.addresses[index]
        return f"instance {index} ({host}:{port})"

    # -- setting up ------------------------------------------------------------------------------
    def expect(
        self,
        method: str,
        path: str | re.Pattern[str],
        *,
        query: Mapping[str, QueryExpected] | None = None,
        headers: Mapping[str, Expected] | None = None,
        json: object = NOT_GIVEN,
        body: bytes | str | None = None,
        accept: str | None = None,
        name: str | None = None,
    ) -> GroupRoute:
        """The same route on every instance (see `HttpStub.expect`); `group[i].expect` adds one to instance i only."""
        return GroupRoute(
            [
                stub.expect(method, path, query=query, headers=headers, json=json, body=body, accept=accept, name=name)
                for stub in self.instances
            ]
        )

    def inject(self, *faults: Fault | str) -> None:
        """Faults on every instance (`faults.inject(fault, into=group[i])` for one instance)."""
        for stub in self.instances:
            stub.inject(*faults)

    def register(self, dns: DnsServer, service: str, *, ttl: int | None = None) -> str:
        """Serve the instances' addresses from `dns` under `service` (A per instance, SRV with the port);
        their stubs accept the name in Host headers. Returns the full name ("orders.ipc.test")."""
        full = dns.register(service, self.addresses, ttl=ttl)
        for stub in self.instances:
            server = stub.server
            if isinstance(server, EmbeddedServer):
                server.allow_host(full)
        self.service, self.dns = full, dns
        return full

    # -- looking at what happened ----------------------------------------------------------------
    def calls(self, route: GroupRoute | str | None = None) -> list[JournalEntry]:
        """Every instance's requests (of one route), in arrival order (the journal protocol of a stub)."""
        merged = [entry for entries in self.calls_by_instance(route) for entry in entries]
        return sorted(merged, key=lambda entry: entry.started)

    def calls_by_instance(self, route: GroupRoute | str | None = None) -> list[list[JournalEntry]]:
        """Each instance's requests (of one route), in instance order."""
        if isinstance(route, GroupRoute):
            return [stub.calls(own) for stub, own in zip(self.instances, route.routes, strict=True)]
        return [stub.calls(route) for stub in self.instances]

    def counts(self, route: GroupRoute | str | None = None) -> list[int]:
        """How many requests each instance got."""
        return [len(entries) for entries in self.calls_by_instance(route)]

    # -- per test (the `http_stub_group` fixture) -------------------------------------------------
    def begin_test(self, test: str) -> None:
        """Serve `test`: every instance clean, all on one port no earlier test used."""
        if len({stub.port for stub in self.instances}) > 1:
            self.move_together()
        for stub in self.instances:
            stub.begin_test(test)

    def end_test(self) -> None:
        """End the test on every instance (connections closed, late requests reported) and move the
        instances together to the next test's port."""
        self.move_together()
        self.service = self.dns = None

    def move_together(self) -> None:
        """End the current test on every instance, moving each to one new port they all share."""
        for _attempt in range(MOVE_ATTEMPTS):
            port = 0
            try:
                for stub in self.instances:
                    _set_next_port(stub, port)
                    stub.end_test()
                    port = port or stub.port
                return
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
            finally:
                for stub in self.instances:
                    _set_next_port(stub, 0)
        raise StubGroupError(f"could not find a port free on all {len(self)} instance addresses in {MOVE_ATTEMPTS} attempts")

    def problems_report(self) -> str | None:
        reports = [
            f"instance {index} ({stub.host}):\n{report}"
            for index, stub in enumerate(self.instances)
            if (report := stub.problems_report())
        ]
        return "\n".join(reports) or None


def _set_next_port(stub: HttpStub, port: int) -> None:
    if isinstance(stub.server, EmbeddedServer):
        stub.server.next_port = port


class StubGroupPool:
    """The session's group instances, started as tests ask for more, stopped at the end."""

    def __init__(self) -> None:
        self.stubs: list[HttpStub] = []
        self.in_use = 0

    def take(self, count: int) -> list[HttpStub]:
        """`count` instances no other group of the running test holds (released by `release_all`)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise StubGroupError(f"a stub group has an int >= 1 of instances, got {count!r}")
        if self.in_use + count > MAX_INSTANCES:
            raise StubGroupError(f"the groups of one test hold at most {MAX_INSTANCES} instances; asked for {self.in_use + count}")
        while len(self.stubs) < self.in_use + count:
            self.stubs.append(HttpStub(instance_host(len(self.stubs))).start())
        taken = self.stubs[self.in_use : self.in_use + count]
        self.in_use += count
        return taken

    def release_all(self) -> None:
        self.in_use = 0

    def close(self) -> None:
        errors: list[BaseException] = []
        for stub in self.stubs:
            try:
                stub.stop()
            except Exception as error:  # stop the others anyway
                errors.append(error)
        self.stubs.clear()
        if errors:
            raise errors[0]


class StubGroups:
    """The `http_stub_group` fixture: ``http_stub_group(3, service="orders")`` makes a test's group.

    With `service`, the group's addresses are served by the test's DNS server (`ipc_dns`, which
    needs the extra ``discovery``) under that name, with `ttl` (whole seconds; the server's default
    otherwise).
    """

    def __init__(self, pool: StubGroupPool, test: str, dns: Callable[[], DnsServer]) -> None:
        self._pool = pool
        self._test = test
        self._dns = dns
        self.groups: list[StubGroup] = []

    def __call__(self, count: int, *, service: str | None = None, ttl: int | None = None) -> StubGroup:
        group = StubGroup(self._pool.take(count))
        self.groups.append(group)
        group.begin_test(self._test)
        if service is not None:
            group.register(self._dns(), service, ttl=ttl)
        return group

    def end_test(self, allow_unmatched: bool) -> str | None:
        """End every group of the test; their problems (unmatched requests...), or None."""
        reports: list[str] = []
        try:
            for group in self.groups:
                if allow_unmatched:
                    for stub in group:
                        stub.allow_unmatched()
                report = group.problems_report()
                if report:
                    reports.append(f"http_stub_group {group.service or ''}".rstrip() + f":\n{report}")
        finally:
            try:
                for group in self.groups:
                    group.end_test()
            finally:
                self._pool.release_all()
        return "\n".join(reports) or None
