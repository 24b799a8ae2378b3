"""HTTP-level faults on the HTTP stub: each vocabulary fault becomes stub faults injected stub-wide.

Stub-wide means before any route answers, so a test sets up its healthy routes as usual and the fault
decides what becomes of them. Leaving `inject` removes exactly the faults it added.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import stub
from .._http import Exchange, Response
from . import vocabulary as v

LAYER = "stub"
WHY_NOT = "the stub is an HTTP server that is listening: it can answer badly or late, not refuse connections or time out a connect"


@dataclass(frozen=True)
class FirstRequests(stub.Fault):
    """Replace the answer to the first `times` requests by `status`; pass later ones on untouched."""

    name: ClassVar[str] = "fail_first"
    times: int = 1
    status: int = 503
    _seen: Iterator[int] = field(default_factory=lambda: itertools.count(1), compare=False, repr=False)

    async def apply(self, response: Response, exchange: Exchange, rng: random.Random) -> Response | None:
        if next(self._seen) <= self.times:
            return stub.Status(self.status).response()
        return response


# Each entry reads the fields of its own fault type (hence Any: the key fixes the type).
STUB_FAULTS: dict[type[v.Fault], Callable[[Any], stub.Fault]] = {
    v.Latency: lambda fault: stub.Delay.fixed(fault.seconds),
    v.Hang: lambda fault: stub.Hang(),
    v.Reset: lambda fault: stub.Reset(),
    v.Status: lambda fault: stub.Status(fault.status, retry_after=fault.retry_after),
    v.FailFirst: lambda fault: FirstRequests(times=fault.times, status=fault.status),
    v.MalformedResponse: lambda fault: stub.MalformedChunk(),
    v.Dribble: lambda fault: stub.DribbleBody(duration_s=fault.seconds),
    v.CloseBeforeHeaders: lambda fault: stub.CloseBeforeHeaders(),
    v.EmptyResponse: lambda fault: stub.EmptyResponse(),
}


@contextmanager
def inject(fault: v.Fault, target: stub.HttpStub) -> Iterator[None]:
    stub_fault = STUB_FAULTS[type(fault)](fault)
    target.inject(stub_fault)
    try:
        yield
    finally:
        target.faults[:] = [armed for armed in target.faults if armed.fault is not stub_fault]
