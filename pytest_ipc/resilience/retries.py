"""How many times did the client retry, and how long did it wait in between? Read from the journal.

A pause is measured at the stub: from the end of one attempt's answer to the start of the next
request, so it is the client's backoff plus a little transport time, never the attempt itself. A
sleep is never shorter than asked, only later on a busy machine: so a pause may come `tolerance`
late but only `EARLY_SLACK` early (for jittered backoff, give the least pause).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from ..stub import JournalEntry
from .calls import positive

Backoff = Sequence[float] | Callable[[int], float]
EARLY_SLACK = 0.02  # seconds: clock and transport granularity


def constant(seconds: float) -> Callable[[int], float]:
    """The same pause before every retry."""
    positive("seconds", seconds)
    return lambda retry: seconds


def exponential(initial: float, multiplier: float = 2.0, maximum: float = math.inf) -> Callable[[int], float]:
    """`initial`, then times `multiplier` before each further retry, capped at `maximum`."""
    positive("initial", initial)
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or multiplier < 1:
        raise ValueError(f"multiplier must be a number >= 1, got {multiplier!r}")
    return lambda retry: min(maximum, initial * multiplier ** (retry - 1))


def pauses(entries: Sequence[JournalEntry]) -> list[float]:
    """The pause before each retry (one fewer than there are attempts)."""
    ordered = sorted(entries, key=lambda entry: entry.started)
    return [later.started - (earlier.ended or earlier.started) for earlier, later in itertools.pairwise(ordered)]


def assert_retries(
    entries: Sequence[JournalEntry], *, retries: int, backoff: Backoff | None = None, tolerance: float = 0.15
) -> list[float]:
    """The stub saw exactly `retries` + 1 attempts; with `backoff` (the expected pause before each
    retry: a list of seconds, `constant(s)` or `exponential(...)`), each pause matched it within
    `tolerance` seconds. Returns the measured pauses."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0 (attempts minus one), got {retries!r}")
    tolerance = positive("tolerance", tolerance)
    attempts = len(entries)
    if attempts != retries + 1:
        raise AssertionError(
            f"expected {retries} retries ({retries + 1} attempts), the stub saw {attempts} attempt(s) "
            f"({max(attempts - 1, 0)} retries)\n{_render(entries)}"
        )
    measured = pauses(entries)
    if backoff is None:
        return measured
    expected = _expected(backoff, retries)
    wrong = [index for index, (want, got) in enumerate(zip(expected, measured)) if not want - EARLY_SLACK <= got <= want + tolerance]
    if wrong:
        lines = [
            f"  retry {index + 1}: expected a pause of {want:.3f} s, measured {got:.3f} s{'  <-- off' if index in wrong else ''}"
            for index, (want, got) in enumerate(zip(expected, measured))
        ]
        raise AssertionError(
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
        raise ValueError(f"backoff lists {len(expected)} pause(s) for {retries} retries; give one per retry")
    return expected


def _render(entries: Sequence[JournalEntry]) -> str:
    if not entries:
        return "journal: (no requests)"
    first = min(entry.started for entry in entries)
    lines = [f"  +{entry.started - first:.3f} s  {entry.describe()}" for entry in sorted(entries, key=lambda entry: entry.started)]
    return "attempts at the stub:\n" + "\n".join(lines)
