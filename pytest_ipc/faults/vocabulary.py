"""The faults a user names once, whatever layer injects them: plain, validated, frozen values.

A fault says *what goes wrong* ("the dependency hangs", "answers 503 three times"), never *how* a
layer produces it; `layers.py` compiles it onto respx, the HTTP stub or the fault proxy. `label` is
the short readable id the fault matrix uses ("latency-200ms", "status-503").
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import ClassVar

# The stub's own checks, so a bad value reads the same at every layer.
from ..stub.faults import check_non_negative, check_positive_int
from ..stub.responses import check_status


def _millis_label(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


@dataclass(frozen=True)
class Fault:
    """Base of the vocabulary; `name` is what `make()` and the matrix accept as a string."""

    name: ClassVar[str] = "fault"

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")


@dataclass(frozen=True)
class Latency(Fault):
    """Every answer arrives `seconds` late."""

    name: ClassVar[str] = "latency"
    seconds: float

    def __post_init__(self) -> None:
        check_non_negative(self.name, "seconds", self.seconds)

    @property
    def label(self) -> str:
        return f"latency-{_millis_label(self.seconds)}"


@dataclass(frozen=True)
class Hang(Fault):
    """The dependency accepts the request and never answers: only the client's timeout ends the call."""

    name: ClassVar[str] = "hang"


@dataclass(frozen=True)
class Outage(Fault):
    """Nothing listens: connections are refused."""

    name: ClassVar[str] = "outage"


@dataclass(frozen=True)
class Reset(Fault):
    """The connection is reset (TCP RST) once the request is sent."""

    name: ClassVar[str] = "reset"


@dataclass(frozen=True)
class Status(Fault):
    """Every answer is `status` (429, 503...), with `Retry-After: retry_after` when given."""

    name: ClassVar[str] = "status"
    status: int = 503
    retry_after: int | None = None

    def __post_init__(self) -> None:
        check_status(self.status)
        if self.retry_after is not None and (not isinstance(self.retry_after, int) or isinstance(self.retry_after, bool) or self.retry_after < 0):
            raise ValueError(f"status: retry_after must be whole seconds >= 0, got {self.retry_after!r}")

    @property
    def label(self) -> str:
        return f"status-{self.status}"


@dataclass(frozen=True)
class FailFirst(Fault):
    """The first `times` requests get `status`; later ones reach the real answer (a transient fault)."""

    name: ClassVar[str] = "fail_first"
    times: int = 1
    status: int = 503

    def __post_init__(self) -> None:
        check_positive_int(self.name, "times", self.times)
        check_status(self.status)

    @property
    def label(self) -> str:
        return f"fail-first-{self.times}x{self.status}"


@dataclass(frozen=True)
class ConnectTimeout(Fault):
    """The client's connect attempt times out (in-process: raises httpx.ConnectTimeout)."""

    name: ClassVar[str] = "connect_timeout"


@dataclass(frozen=True)
class ReadTimeout(Fault):
    """The client's read times out (in-process: raises httpx.ReadTimeout)."""

    name: ClassVar[str] = "read_timeout"


@dataclass(frozen=True)
class Bandwidth(Fault):
    """Answers trickle through at `kb_s` kilobytes (1000 bytes) per second."""

    name: ClassVar[str] = "bandwidth"
    kb_s: int

    def __post_init__(self) -> None:
        if not isinstance(self.kb_s, int) or isinstance(self.kb_s, bool) or self.kb_s < 0:
            raise ValueError(f"bandwidth: kb_s must be an int >= 0 (0 stalls the stream), got {self.kb_s!r}")

    @property
    def label(self) -> str:
        return f"bandwidth-{self.kb_s}kbs"


@dataclass(frozen=True)
class MalformedResponse(Fault):
    """The answer breaks HTTP framing halfway through (a chunk header that is not hex)."""

    name: ClassVar[str] = "malformed_response"


@dataclass(frozen=True)
class Dribble(Fault):
    """Headers at once, then the body in pieces spread over `seconds`."""

    name: ClassVar[str] = "dribble"
    seconds: float

    def __post_init__(self) -> None:
        check_non_negative(self.name, "seconds", self.seconds)
        if self.seconds == 0:
            raise ValueError(f"dribble: seconds must be > 0 (the body is spread over them), got {self.seconds!r}")

    @property
    def label(self) -> str:
        return f"dribble-{_millis_label(self.seconds)}"


@dataclass(frozen=True)
class CloseBeforeHeaders(Fault):
    """The status line arrives, then the connection closes before the headers end."""

    name: ClassVar[str] = "close_before_headers"


@dataclass(frozen=True)
class EmptyResponse(Fault):
    """The connection closes without a single byte of answer."""

    name: ClassVar[str] = "empty_response"


FAULTS: dict[str, type[Fault]] = {
    kind.name: kind
    for kind in (
        Latency, Hang, Outage, Reset, Status, FailFirst, ConnectTimeout, ReadTimeout,
        Bandwidth, MalformedResponse, Dribble, CloseBeforeHeaders, EmptyResponse,
    )
}  # fmt: skip


def make(name: str, **params: object) -> Fault:
    """A fault from its name and parameters, e.g. ``make("latency", seconds=0.2)``; bad input says
    what the choices are."""
    kind = FAULTS.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; choose one of: {', '.join(FAULTS)}")
    allowed = [field.name for field in fields(kind)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "no parameters"
        raise ValueError(f"{name}: unknown parameter(s) {', '.join(unknown)}; {name} takes: {takes}")
    missing = [field.name for field in fields(kind) if field.default is MISSING and field.name not in params]
    if missing:
        raise ValueError(f"{name}: missing parameter(s) {', '.join(missing)}; {name} takes: {', '.join(allowed)}")
    return kind(**params)


# The short spellings users write: faults.latency(0.2), faults.status(503, retry_after=1) ...
def latency(seconds: float) -> Latency:
    return Latency(seconds)


def hang() -> Hang:
    return Hang()


def outage() -> Outage:
    return Outage()


def reset() -> Reset:
    return Reset()


def status(status: int = 503, *, retry_after: int | None = None) -> Status:
    return Status(status, retry_after)


def fail_first(times: int, *, status: int = 503) -> FailFirst:
    return FailFirst(times, status)


def connect_timeout() -> ConnectTimeout:
    return ConnectTimeout()


def read_timeout() -> ReadTimeout:
    return ReadTimeout()


def bandwidth(kb_s: int) -> Bandwidth:
    return Bandwidth(kb_s)


def malformed_response() -> MalformedResponse:
    return MalformedResponse()


def dribble(seconds: float) -> Dribble:
    return Dribble(seconds)


def close_before_headers() -> CloseBeforeHeaders:
    return CloseBeforeHeaders()


def empty_response() -> EmptyResponse:
    return EmptyResponse()
