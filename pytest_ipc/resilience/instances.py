"""Does the client use a service's many instances well? Probed against a `StubGroup`'s journals.

- `assert_spread`: sequential calls spread over the instances, none taking more than `max_share`
  of them (a client pinned to one instance, by a pooled connection or a cached first address, fails);
- `assert_routes_around`: once an instance fails (the probe injects `failure` into it), later calls
  go to the others (a client that keeps calling the failing instance fails);
- `assert_outlier_ejected`: the same, and after `cool_down` (the failing instance healed) the client
  takes the instance back (a client that ejects for good fails too);
- `assert_instance_cap`: with every request held `hold` s, a burst of calls never has more than
  `limit` requests in flight at one instance, and reaches `limit` somewhere;
- `assert_reresolves`: after the service's DNS records change (``faults.records_changed``) and their
  TTL passes, no call reaches an instance the answers no longer list (a client that resolved once
  and caches the answer forever fails).

Each reads only the clocks and the instances' journals (and `ipc_dns`'s), injects the faults it needs,
and says in its failure what was expected, what was measured and what to change. Async forms, with
the same names, are in `pytest_ipc.resilience.aio`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, ResilienceUsageError, Sleep, drive, positive, whole
from pytest_ipc.resilience.cap import peak_in_flight

if TYPE_CHECKING:
    from pytest_ipc.stub.group import StubGroup
    from pytest_ipc.stub.journal import JournalEntry

COOL_DOWN_MARGIN = 0.05  # waited past a cool-down or TTL, so the client's own clock has surely expired


def _known(group: StubGroup) -> set[int]:
    return {id(entry) for entry in group.calls()}


def _new(group: StubGroup, known: set[int]) -> list[list[JournalEntry]]:
    return [[entry for entry in entries if id(entry) not in known] for entries in group.calls_by_instance()]


def _sequential(count: int, call_timeout: float) -> Probe[list[CallOutcome]]:
    """`count` calls one after another; how each ended."""
    outcomes: list[CallOutcome] = []
    for _ in range(count):
        ended: list[CallOutcome] = yield Calls(1, call_timeout)
        outcomes += ended
    return outcomes


def _errors(outcomes: Sequence[CallOutcome]) -> str:
    failed = [outcome for outcome in outcomes if outcome.error is not None or not outcome.finished]
    if not failed:
        return f"all {len(outcomes)} call(s) returned"
    return f"{len(failed)} of {len(outcomes)} call(s) failed, the first {failed[0].describe()}"


def _table(group: StubGroup, per_instance: Sequence[Sequence[JournalEntry]]) -> str:
    total = sum(len(entries) for entries in per_instance) or 1
    return "\n".join(
        f"  {group.describe(index)}: {len(entries)} request(s) ({100 * len(entries) / total:.0f}%)"
        for index, entries in enumerate(per_instance)
    )


def _check_group(group: object) -> StubGroup:
    from pytest_ipc.stub.group import StubGroup

    if not isinstance(group, StubGroup):
        raise ResilienceUsageError(f"expected a StubGroup (from the http_stub_group fixture), got {group!r}")
    if len(group) < 2:
        raise ResilienceUsageError(f"the instance assertions need a group of at least 2 instances, got {len(group)}")
    return group


def _instance(group: StubGroup, name: str, index: object) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(group):
        raise ResilienceUsageError(f"{name} is the index of an instance, from 0 to {len(group) - 1}, got {index!r}")
    return index


# -- spread -----------------------------------------------------------------------------------------
def spread_probe(group: StubGroup, calls: int, max_share: float | None, call_timeout: float) -> Probe[list[int]]:
    group = _check_group(group)
    count = whole("calls", calls, 2 * len(group))
    share = 1.5 / len(group) if max_share is None else max_share
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 1 / len(group) <= share <= 1:
        raise ResilienceUsageError(f"max_share is a fraction from 1/{len(group)} (an even spread) to 1, got {max_share!r}")
    known = _known(group)
    outcomes = yield from _sequential(count, positive("call_timeout", call_timeout))
    per_instance = _new(group, known)
    total = sum(len(entries) for entries in per_instance)
    if total < count:
        raise IpcAssertionError(
            f"calls not spread: {count} calls made only {total} request(s) at the instances ({_errors(outcomes)}); "
            "does the client call the group's service name (group.url) resolved through ipc_dns, or the instances?\n"
            + _table(group, per_instance)
        )
    worst = max(range(len(group)), key=lambda index: len(per_instance[index]))
    measured = len(per_instance[worst]) / total
    if measured > share:
        raise IpcAssertionError(
            f"calls not spread over the {len(group)} instances: expected none to take more than {share:.0%} of "
            f"{total} request(s), measured {measured:.0%} at {group.describe(worst)}: the client sticks to one "
            "instance (a keep-alive connection pinned to the first address, or a resolved address kept); balance per "
            "request (round-robin over every address) or bound the connections' reuse\n" + _table(group, per_instance)
        )
    return [len(entries) for entries in per_instance]


def assert_spread(group: StubGroup, *, call: Call, calls: int = 30, max_share: float | None = None, call_timeout: float = 5.0) -> list[int]:
    """`calls` sequential calls spread over the group: no instance takes more than `max_share` of the
    requests (default 1.5 / number of instances). Returns the requests per instance."""
    return drive(call, spread_probe(group, calls, max_share, call_timeout))


# -- routing around a failing instance, ejection and its end ------------------------------------------
def ejection_probe(
    group: StubGroup,
    failing: int,
    *,
    calls: int,
    failure: faults.Fault,
    tolerance: int,
    cool_down: float | None,
    call_timeout: float,
) -> Probe[list[int]]:
    group = _check_group(group)
    index = _instance(group, "failing", failing)
    count = whole("calls", calls, 2 * len(group))
    tolerance = whole("tolerance", tolerance, 0)
    call_timeout = positive("call_timeout", call_timeout)
    if not isinstance(failure, faults.Fault):
        raise ResilienceUsageError(f"failure takes a fault from pytest_ipc.faults (e.g. faults.status(503)), got {failure!r}")
    bad = group[index]
    known = _known(group)
    with faults.inject(failure, into=bad, must_fire=False):
        outcomes = yield from _sequential(count, call_timeout)
        per_instance = _new(group, known)
    hit = [entry for entry in per_instance[index] if entry.faults]
    if not hit:
        raise IpcAssertionError(
            f"the probe never reached the failing instance: {group.describe(index)} was to fail ({failure.describe()}) and "
            f"saw none of {count} calls ({_errors(outcomes)}); the client must spread its calls over every instance "
            "(assert_spread) for this to say anything\n" + _table(group, per_instance)
        )
    since_first = per_instance[index][per_instance[index].index(hit[0]) :]
    later = _too_soon(since_first, cool_down)
    ejected_at = hit[-1].ended or hit[-1].started  # the last failure the client saw: its cool-down runs from there
    if len(later) > tolerance:
        within = "" if cool_down is None else f" within {cool_down:.2f} s (cool_down) of a failure"
        raise IpcAssertionError(
            f"the client keeps calling a failing instance: after {group.describe(index)} first failed "
            f"({failure.describe()}), {len(later)} more request(s) of {count} calls reached it{within} (at most {tolerance} "
            "expected): stop sending to an instance that fails (eject it for a while, or route to a healthy one); "
            f"{_errors(outcomes)}\n" + _table(group, per_instance)
        )
    others = sum(len(entries) for position, entries in enumerate(per_instance) if position != index)
    if others == 0:
        raise IpcAssertionError(
            f"the client did not route around the failing instance: no request reached the other {len(group) - 1} instance(s) "
            f"({_errors(outcomes)})\n" + _table(group, per_instance)
        )
    if cool_down is None:
        return [len(entries) for entries in per_instance]
    yield Sleep(ejected_at + cool_down + COOL_DOWN_MARGIN)
    known = _known(group)
    outcomes = yield from _sequential(count, call_timeout)
    after = _new(group, known)
    if not after[index]:
        raise IpcAssertionError(
            f"the ejected instance was never taken back: {group.describe(index)} healed, and {cool_down:.2f} s (cool_down) "
            f"after it was ejected none of {count} calls reached it: an ejection must end after its cool-down "
            f"(else one bad minute shrinks the pool for good); {_errors(outcomes)}\n" + _table(group, after)
        )
    return [len(entries) for entries in after]


def _too_soon(requests: Sequence[JournalEntry], cool_down: float | None) -> list[JournalEntry]:
    """The requests that reached the failing instance after its first failure while the client should have
    kept away: all of them, or (with a cool-down) those less than `cool_down` after the one before (a
    client that takes the instance back on time, sees it fail again and ejects it again, does right)."""
    later = list(requests[1:])
    if cool_down is None:
        return later
    return [entry for before, entry in zip(requests, later, strict=False) if entry.started < (before.ended or before.started) + cool_down]


def assert_routes_around(
    group: StubGroup,
    failing: int = 0,
    *,
    call: Call,
    calls: int = 20,
    failure: faults.Fault | None = None,
    tolerance: int = 0,
    call_timeout: float = 5.0,
) -> list[int]:
    """With instance `failing` failing (`failure`, default ``faults.status(503)``), after its first failed
    request at most `tolerance` more of `calls` sequential calls reach it, and the others get calls."""
    return drive(
        call,
        ejection_probe(
            group, failing, calls=calls, failure=failure or faults.status(503), tolerance=tolerance, cool_down=None,
            call_timeout=call_timeout,
        ),
    )  # fmt: skip


def assert_outlier_ejected(
    group: StubGroup,
    outlier: int = 0,
    *,
    call: Call,
    cool_down: float,
    calls: int = 20,
    failure: faults.Fault | None = None,
    tolerance: int = 0,
    call_timeout: float = 5.0,
) -> list[int]:
    """`assert_routes_around`, then the outlier heals and, `cool_down` s after it was ejected, calls reach it again."""
    return drive(
        call,
        ejection_probe(
            group, outlier, calls=calls, failure=failure or faults.status(503), tolerance=tolerance,
            cool_down=positive("cool_down", cool_down), call_timeout=call_timeout,
        ),
    )  # fmt: skip


# -- per-instance limits ------------------------------------------------------------------------------
def instance_cap_probe(group: StubGroup, limit: int, concurrency: int | None, hold: float, call_timeout: float) -> Probe[list[int]]:
    group = _check_group(group)
    limit = whole("limit", limit, 1)
    count = 2 * limit * len(group) if concurrency is None else concurrency
    if isinstance(count, bool) or not isinstance(count, int) or count <= limit * len(group):
        raise ResilienceUsageError(
            f"concurrency must be an int above limit x instances ({limit * len(group)}) to test the limit, got {count!r}"
        )
    hold, call_timeout = positive("hold", hold), positive("call_timeout", call_timeout)
    known = _known(group)
    with ExitStack() as held:
        for stub in group:
            held.enter_context(faults.inject(faults.latency(hold), into=stub, must_fire=False))
        outcomes: list[CallOutcome] = yield Calls(count, call_timeout)
    per_instance = _new(group, known)
    peaks = [peak_in_flight(entries) for entries in per_instance]
    setting = f"{count} calls started at once, each request held {hold:.2f} s"
    table = "\n".join(f"  {group.describe(index)}: at most {peak} in flight" for index, peak in enumerate(peaks))
    worst = max(range(len(group)), key=lambda index: peaks[index])
    if peaks[worst] > limit:
        raise IpcAssertionError(
            f"per-instance limit exceeded: expected at most {limit} request(s) in flight at each instance, measured "
            f"{peaks[worst]} at {group.describe(worst)} ({setting}): bound the requests per instance (a connection pool "
            f"per host with max {limit}), not only in total\n{table}"
        )
    if peaks[worst] < limit:
        raise IpcAssertionError(
            f"per-instance limit never reached: expected {limit} request(s) in flight at some instance at the peak "
            f"({setting}), measured at most {peaks[worst]}; the client serialises its calls, so the limit is never used "
            f"({_errors(outcomes)})\n{table}"
        )
    return peaks


def assert_instance_cap(
    group: StubGroup, limit: int, *, call: Call, concurrency: int | None = None, hold: float = 0.3, call_timeout: float = 5.0
) -> list[int]:
    """A burst of `concurrency` calls (default 2 x limit x instances) never has more than `limit` requests
    in flight at one instance, and reaches `limit` at some instance. Returns each instance's peak."""
    return drive(call, instance_cap_probe(group, limit, concurrency, hold, call_timeout))


# -- re-resolution ------------------------------------------------------------------------------------
def reresolve_probe(group: StubGroup, calls: int, drop: int, call_timeout: float) -> Probe[list[int]]:
    group = _check_group(group)
    dns = group.dns
    if dns is None or group.service is None:
        raise ResilienceUsageError("assert_reresolves needs a group with a service name: http_stub_group(n, service='orders')")
    count = whole("calls", calls, 1)
    drop = whole("drop", drop, 1)
    if drop >= len(group):
        raise ResilienceUsageError(f"drop leaves out instances from the answers; at most {len(group) - 1} of {len(group)}, got {drop}")
    call_timeout = positive("call_timeout", call_timeout)
    ttl = max(dns.ttls.get(group.service, dns.default_ttl), 0)
    before = _known(group)
    first = yield from _sequential(count, call_timeout)
    reached = _new(group, before)
    if not sum(len(entries) for entries in reached):
        raise IpcAssertionError(
            f"the probe's calls reached no instance of {group.service} ({_errors(first)}): the client must call group.url "
            "resolved through ipc_dns"
        )
    with faults.inject(faults.records_changed(drop=drop), into=dns, must_fire=False) as change:
        changed_at = time.monotonic()
        yield Sleep(changed_at + ttl + COOL_DOWN_MARGIN)
        known = _known(group)
        queries_before = len(dns.calls(group.service))
        outcomes = yield from _sequential(count, call_timeout)
        after = _new(group, known)
        asked = len(dns.calls(group.service)) - queries_before
        fired = change.activations()
    gone = [index for index in range(drop) if after[index]]
    if gone:
        stale = sum(len(after[index]) for index in gone)
        names = ", ".join(group.describe(index) for index in gone)
        raise IpcAssertionError(
            f"the client caches DNS answers past their TTL: the records of {group.service} changed ({names} no longer "
            f"listed) and their TTL of {ttl} s passed, yet {stale} of {count} later calls still reached it; the DNS server "
            f"saw {asked} quer(ies) for the name after the change ({fired} answered with the new records). Resolve again "
            f"when the TTL expires (and close pooled connections to addresses no longer listed)\n" + _table(group, after)
        )
    if not any(after[index] for index in range(drop, len(group))):
        raise IpcAssertionError(
            f"after the records of {group.service} changed, none of {count} calls reached an instance still listed "
            f"({_errors(outcomes)})\n" + _table(group, after)
        )
    return [len(entries) for entries in after]


def assert_reresolves(group: StubGroup, *, call: Call, calls: int = 6, drop: int = 1, call_timeout: float = 5.0) -> list[int]:
    """Calls reach the group; its records change (the first `drop` instances are left out of every answer);
    after the TTL, `calls` sequential calls reach none of the dropped instances."""
    return drive(call, reresolve_probe(group, calls, drop, call_timeout))


__all__ = [
    "assert_instance_cap",
    "assert_outlier_ejected",
    "assert_reresolves",
    "assert_routes_around",
    "assert_spread",
]

