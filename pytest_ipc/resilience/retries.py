"""How many times did the client retry, how long did it wait in between, and do many clients retry
in lockstep? Read from the journal.

A pause is measured at the stub: from the end of one attempt's answer to the start of the next
request, so it is the client's backoff plus a little transport time, never the attempt itself. A
sleep is never shorter than asked, only later on a busy machine: so a pause may come `tolerance`
late but only `EARLY_SLACK` early (for jittered backoff, give the least pause).

Lockstep: when a dependency fails, every client sees the failure at once; without jitter they all
retry after the same backoff, at once again, and hammer it in waves. `assert_retry_jitter` starts
`clients` calls together against a failing stub and looks at when the retries arrive.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pytest_ipc import faults
from pytest_ipc._errors import IpcAssertionError
from pytest_ipc.faults.layers import check_supported, layer_of
from pytest_ipc.resilience.calls import Call, CallOutcome, Calls, Probe, ResilienceUsageError, drive, positive, whole

if TYPE_CHECKING:
    from pytest_ipc._observed import ObservedCall, ObservedStub

Backoff = Sequence[float] | Callable[[int], float]
EARLY_SLACK = 0.02  # seconds: clock and transport granularity


def constant(pause: float) -> Callable[[int], float]:
    """The same pause (seconds) before every retry."""
    positive("pause", pause)
    return lambda retry: pause


def exponential(initial: float, multiplier: float = 2.0, maximum: float = math.inf) -> Callable[[int], float]:
    """`initial`, then times `multiplier` before each further retry, capped at `maximum`."""
    positive("initial", initial)
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or multiplier < 1:
        raise ResilienceUsageError(f"multiplier must be a number >= 1, got {multiplier!r}")
    return lambda retry: min(maximum, initial * multiplier ** (retry - 1))


def pauses(entries: Sequence[ObservedCall]) -> list[float]:
    """The pause before each retry (one fewer than there are attempts)."""
    ordered = sorted(entries, key=lambda entry: entry.started)
    return [later.started - (earlier.ended or earlier.started) for earlier, later in itertools.pairwise(ordered)]


def assert_retries(
    entries: Sequence[ObservedCall], *, retries: int, backoff: Backoff | None = None, tolerance: float = 0.15
) -> list[float]:
    """The stub saw exactly `retries` + 1 attempts; with `backoff` (the expected pause before each
    retry: a list of seconds, `constant(s)` or `exponential(...)`), each pause matched it within
    `tolerance` seconds. Returns the measured pauses."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ResilienceUsageError(f"retries must be an int >= 0 (attempts minus one), got {retries!r}")
    tolerance = positive("tolerance", tolerance)
    attempts = len(entries)
    if attempts != retries + 1:
        requests = sorted({entry.endpoint for entry in entries})
        of = f" of {', '.join(requests)}" if requests else ""
        raise IpcAssertionError(
            f"expected {retries} retries ({retries + 1} attempts), the stub saw {attempts} attempt(s){of} "
            f"({max(attempts - 1, 0)} retries)\n{_render(entries)}"
        )
    measured = pauses(entries)
    if backoff is None:
        return measured
    expected = _expected(backoff, retries)
    wrong = [
        index
        for index, (want, got) in enumerate(zip(expected, measured, strict=True))
        if not want - EARLY_SLACK <= got <= want + tolerance
    ]
    if wrong:
        lines = [
            f"  retry {index + 1}: expected a pause of {want:.3f} s, measured {got:.3f} s{'  <-- off' if index in wrong else ''}"
            for index, (want, got) in enumerate(zip(expected, measured, strict=True))
        ]
        raise IpcAssertionError(
            f"backoff wrong before {len(wrong)} of {retries} retries (allowed: {EARLY_SLACK:.3f} s early to {tolerance:.3f} s late):\n"
            + "\n".join(lines)
            + f"\n{_render(entries)}"
        )
    return measured


def _expected(backoff: Backoff, retries: int) -> list[float]:
    if callable(backoff):
        return [float(backoff(retry)) for retry in range(1, retries + 1)]
    expected = [float(pause) for pause in backoff]
    if len(expected) != retries:
        raise ResilienceUsageError(f"backoff lists {len(expected)} pause(s) for {retries} retries; give one per retry")
    return expected


def _render(entries: Sequence[ObservedCall]) -> str:
    if not entries:
        return "journal: (no requests)"
    first = min(entry.started for entry in entries)
    lines = [f"  +{entry.started - first:.3f} s  {entry.describe()}" for entry in sorted(entries, key=lambda entry: entry.started)]
    return "attempts at the stub:\n" + "\n".join(lines)


#: Seconds within which the first attempts of a burst count as started together; a burst spread
#: wider (a busy host) is measured again, up to JITTER_BURSTS times, and the tightest one judged.
CALM_SPREAD = 0.05
JITTER_BURSTS = 3


def jitter_probe(
    stub: ObservedStub, clients: int, window: float, failure: faults.Fault, most: int | None, call_timeout: float
) -> Probe[list[float]]:
    clients = whole("clients", clients, 2)
    window, call_timeout = positive("window", window), positive("call_timeout", call_timeout)
    # four fifths: lockstep puts every client's retry in one wave, while full jitter on a busy host
    # was seen to bunch 7 of 20 retries (10 clients, two retries each) into one window
    allowed = max(2, 4 * clients // 5) if most is None else whole("most", most, 1)
    check_supported(failure, layer_of(stub).name)
    bursts: list[tuple[float, list[float], list[float], list[CallOutcome]]] = []
    while len(bursts) < JITTER_BURSTS:
        known = {id(entry) for entry in stub.calls()}
        with faults.inject(failure, into=stub, must_fire=False):
            outcomes: list[CallOutcome] = yield Calls(clients, call_timeout)
        starts = sorted(entry.started for entry in stub.calls() if id(entry) not in known)
        if len(starts) < clients:
            raise IpcAssertionError(
                f"expected each of {clients} clients started at once to reach the stub, it saw {len(starts)} request(s)"
            )
        first, retries = starts[:clients], starts[clients:]
        if not retries:
            raise IpcAssertionError(
                f"no retries: {clients} clients failing at once made one attempt each; expected them to retry ({failure.describe()})"
            )
        bursts.append((first[-1] - first[0], first, retries, outcomes))
        if bursts[-1][0] <= max(window, CALM_SPREAD):
            break
    spread, first, retries, outcomes = min(bursts, key=lambda burst: burst[0])
    width = window + 2 * spread  # calls that started apart retry about as far apart without jitter, and a busy host adds as much again
    together = max(sum(1 for other in retries[index:] if other - start <= width) for index, start in enumerate(retries))
    if together > allowed:
        still = sum(1 for outcome in outcomes if outcome.duration is None)
        running = f"; {still} call(s) were still retrying when the probe stopped waiting" if still else ""
        busy = f", the tightest of {len(bursts)} bursts" if len(bursts) > 1 else ""
        raise IpcAssertionError(
            f"retries in lockstep: {clients} clients failing at once retried together: {together} of {len(retries)} retries "
            f"arrived within {width:.3f} s (allowed at most {allowed}; the first attempts spread over {spread:.3f} s{busy}). "
            f"Waves measured: {_waves(first[0], retries, width)}{running}. Add random jitter to the backoff (e.g. full jitter)"
        )
    return [start - first[0] for start in retries]


def _waves(origin: float, retries: list[float], width: float) -> str:
    waves: list[list[float]] = []
    for start in retries:
        if waves and start - waves[-1][0] <= width:
            waves[-1].append(start)
        else:
            waves.append([start])
    shown = [f"+{wave[0] - origin:.3f} s: {len(wave)} retries within {wave[-1] - wave[0]:.3f} s" for wave in waves[:5]]
    return "; ".join(shown) + ("; ..." if len(waves) > 5 else "")


def assert_retry_jitter(
    call: Call,
    stub: ObservedStub,
    *,
    clients: int = 10,
    window: float = 0.01,
    failure: faults.Fault | None = None,
    most: int | None = None,
    call_timeout: float = 5.0,
) -> list[float]:
    """Start `clients` calls at once against a stub that fails (`failure`, default
    ``faults.status(503)``); fail when more than `most` (default four fifths of the clients) retries
    arrive within any `window` seconds (widened by twice how far apart the first attempts were):
    the clients retry in lockstep. A burst whose first attempts a busy host spread over more than
    50 ms is measured again (three bursts at most; the tightest is judged). Give each call its own
    client. Returns the retries' times from the first attempt."""
    failure = failure or faults.status(503)
    return drive(call, jitter_probe(stub, clients, window, failure, most, call_timeout), fault=failure)
