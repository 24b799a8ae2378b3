"""The faults a user names once, whatever layer injects them: plain, validated, frozen values.

A fault says *what goes wrong* ("the dependency hangs", "answers 503 three times"), never *how* a
layer produces it; the strategy modules in `layers/` do that. Every fault shares when it fires:

- `probability` (0..1): each request (respx, stub) or connection (proxy) draws whether it fires;
- `seed`: the draws (and sampled delays, garbage bytes) come from `random.Random(seed)`, so a seed
  makes the pattern the same on every run;
- `times`: fire at most that many times, then let everything through (``fail_first(3)`` is
  ``status(503, times=3)``: a transient failure).

Units follow the project's conventions: seconds, bytes, bytes per second. `label` is the short id the
fault matrix uses ("latency-200ms", "status-503"); `describe()` is how messages name the fault.
"""

from __future__ import annotations

import math
import random
from dataclasses import MISSING, dataclass, fields
from typing import ClassVar, Literal, TypedDict, Unpack

from pytest_ipc.faults.errors import FaultUsageError

Distribution = Literal["fixed", "uniform", "lognormal"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("fixed", "uniform", "lognormal")
# Dribble's default gap between pieces: small enough that no realistic per-read timeout fires, so
# only a deadline on the whole call ends it early.
DRIBBLE_GAP = 0.01


class Common(TypedDict, total=False):
    """The parameters every fault takes (see the module docstring)."""

    probability: float
    seed: int | None
    times: int | None


def _number(fault: str, name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise FaultUsageError(f"{fault}: {name} must be a finite number >= 0, got {value!r}")
    if positive and value == 0:
        raise FaultUsageError(f"{fault}: {name} must be > 0, got {value!r}")
    return float(value)


def _count(fault: str, name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultUsageError(f"{fault}: {name} must be an int >= {minimum}, got {value!r}")
    return value


def _millis(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


@dataclass(frozen=True, kw_only=True)
class Fault:
    """Base of the vocabulary; `name` is what `make()` and the matrix accept as a string."""

    name: ClassVar[str] = "fault"
    probability: float = 1.0
    seed: int | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.probability, bool) or not isinstance(self.probability, (int, float)) or not 0.0 <= self.probability <= 1.0:
            raise FaultUsageError(f"{self.name}: probability must be a number from 0 to 1, got {self.probability!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise FaultUsageError(f"{self.name}: seed must be an int or None, got {self.seed!r}")
        if self.times is not None:
            _count(self.name, "times", self.times)

    @property
    def label(self) -> str:
        """The readable id of this fault in a matrix ("latency-200ms")."""
        return self.name.replace("_", "-")

    def describe(self) -> str:
        """The fault as messages name it, with the firing rules that differ from the defaults."""
        rules = [f"{rule}={value}" for rule, value, default in
                 (("probability", self.probability, 1.0), ("seed", self.seed, None), ("times", self.times, None))
                 if value != default]  # fmt: skip
        return self.label + (f" ({', '.join(rules)})" if rules else "")


class Trigger:
    """Whether a fault fires, request by request: `times` first, then a `probability` draw.

    The one place the firing rules live; the respx and stub layers both ask it. `seen` counts the
    requests that asked, `fired` those the fault acted on (the proof that it fired).
    """

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.rng = random.Random(fault.seed)
        self.seen = 0
        self.fired = 0

    def fires(self) -> bool:
        self.seen += 1
        if self.fault.times is not None and self.fired >= self.fault.times:
            return False
        if self.fault.probability < 1.0 and self.rng.random() >= self.fault.probability:
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class Latency(Fault):
    """Every answer arrives late: `latency(delay)` fixed, `Latency.uniform(low, high)` or
    `Latency.lognormal(median, sigma, maximum=)` (a long right tail, like real services)."""

    name: ClassVar[str] = "latency"
    delay: float = 0.0
    distribution: Distribution = "fixed"
    low: float = 0.0
    high: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    maximum: float | None = None  # a cap for long-tailed samples

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.distribution not in DISTRIBUTIONS:
            raise FaultUsageError(f"latency: unknown distribution {self.distribution!r}; choose one of: {', '.join(DISTRIBUTIONS)}")
        for field_name in ("delay", "low", "high", "median", "sigma"):
            _number(self.name, field_name, getattr(self, field_name))
        if self.maximum is not None:
            _number(self.name, "maximum", self.maximum)
        if self.distribution == "uniform" and self.low > self.high:
            raise FaultUsageError(f"latency: uniform needs low <= high, got low={self.low} high={self.high}")
        if self.distribution == "lognormal" and self.median <= 0:
            raise FaultUsageError(f"latency: lognormal needs a median > 0, got {self.median}")

    @classmethod
    def uniform(cls, low: float, high: float, **common: Unpack[Common]) -> Latency:
        """A delay drawn evenly from [low, high] seconds."""
        return cls(distribution="uniform", low=low, high=high, **common)

    @classmethod
    def lognormal(cls, median: float, sigma: float, *, maximum: float | None = None, **common: Unpack[Common]) -> Latency:
        """A delay around `median` seconds with a long right tail (`sigma`), capped at `maximum`."""
        return cls(distribution="lognormal", median=median, sigma=sigma, maximum=maximum, **common)

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds, drawn from `rng` (the fault's own stream)."""
        if self.distribution == "fixed":
            seconds = self.delay
        elif self.distribution == "uniform":
            seconds = rng.uniform(self.low, self.high)
        else:
            seconds = rng.lognormvariate(math.log(self.median), self.sigma)
        return seconds if self.maximum is None else min(seconds, self.maximum)

    @property
    def label(self) -> str:
        if self.distribution == "uniform":
            return f"latency-{round(self.low * 1000)}-{_millis(self.high)}"
        if self.distribution == "lognormal":
            return f"latency-lognormal-{_millis(self.median)}"
        return f"latency-{_millis(self.delay)}"


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
    """The answer is `code` (429, 503...) with `body`, and `Retry-After: retry_after` when given."""

    name: ClassVar[str] = "status"
    code: int = 503
    retry_after: int | None = None  # whole seconds: the header's own unit
    body: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.code, bool) or not isinstance(self.code, int) or not 200 <= self.code <= 599:
            raise FaultUsageError(f"status: code must be an int from 200 to 599 (a final HTTP status), got {self.code!r}")
        if self.retry_after is not None:
            _count(self.name, "retry_after (whole seconds)", self.retry_after, minimum=0)
        if not isinstance(self.body, str):
            raise FaultUsageError(f"status: body must be a str, got {self.body!r}")

    @property
    def label(self) -> str:
        return f"fail-first-{self.times}x{self.code}" if self.times is not None else f"status-{self.code}"


@dataclass(frozen=True)
class GrpcStatus(Fault):
    """An RPC ends with status `code` (a name: "UNAVAILABLE", "RESOURCE_EXHAUSTED"...), `details`, and
    `grpc-retry-pushback-ms` in the trailers when `pushback` (seconds) is given; `after` response
    messages go out first (a stream aborted midway)."""

    name: ClassVar[str] = "grpc_status"
    code: str = "UNAVAILABLE"
    details: str = ""
    pushback: float | None = None
    after: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        from pytest_ipc.rpc.codes import CODES

        code = getattr(self.code, "name", self.code)  # a grpc.StatusCode member reads as its name
        if not isinstance(code, str) or code.upper() not in CODES[1:]:
            raise FaultUsageError(f"grpc_status: code {self.code!r} is not a failing status code; valid names: {', '.join(CODES[1:])}")
        object.__setattr__(self, "code", code.upper())
        if not isinstance(self.details, str):
            raise FaultUsageError(f"grpc_status: details must be a str, got {self.details!r}")
        if self.pushback is not None:
            _number(self.name, "pushback", self.pushback)
        _count(self.name, "after (messages)", self.after, minimum=0)

    @property
    def label(self) -> str:
        label = "status-" + self.code.lower().replace("_", "-")
        if self.pushback is not None:
            label += f"-pushback-{_millis(self.pushback)}"
        if self.after:
            label += f"-after-{self.after}"
        return label if self.times is None else f"{label}-{self.times}x"


@dataclass(frozen=True)
class ThriftError(Fault):
    """A Thrift call ends with an exception: a `TApplicationException` of `kind` ("INTERNAL_ERROR",
    "UNKNOWN_METHOD"...) with `message`, or `exception`, an instance of an exception the IDL declares
    for the method (`throws`), sent as the method's own result."""

    name: ClassVar[str] = "thrift_error"
    kind: str = "INTERNAL_ERROR"
    message: str = ""
    exception: BaseException | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        from pytest_ipc.rpc.codes import THRIFT_ERRORS

        if not isinstance(self.kind, str) or self.kind.upper() not in THRIFT_ERRORS:
            valid = ", ".join(THRIFT_ERRORS)
            raise FaultUsageError(f"thrift_error: kind {self.kind!r} is not a TApplicationException type; valid: {valid}")
        object.__setattr__(self, "kind", self.kind.upper())
        if not isinstance(self.message, str):
            raise FaultUsageError(f"thrift_error: message must be a str, got {self.message!r}")
        if self.exception is not None and not isinstance(self.exception, BaseException):
            raise FaultUsageError(f"thrift_error: exception must be an instance of an IDL exception, got {self.exception!r}")

    @property
    def label(self) -> str:
        what = type(self.exception).__name__ if self.exception is not None else self.kind
        label = "thrift-" + what.lower().replace("_", "-")
        return label if self.times is None else f"{label}-{self.times}x"


@dataclass(frozen=True)
class ConnectTimeout(Fault):
    """The client's connect attempt times out (in-process: raises httpx.ConnectTimeout)."""

    name: ClassVar[str] = "connect_timeout"


@dataclass(frozen=True)
class ReadTimeout(Fault):
    """The client's read times out (in-process: raises httpx.ReadTimeout; for a real one: hang())."""

    name: ClassVar[str] = "read_timeout"


@dataclass(frozen=True)
class Bandwidth(Fault):
    """Answers trickle through at `rate` bytes per second."""

    name: ClassVar[str] = "bandwidth"
    rate: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _count(self.name, "rate (bytes per second)", self.rate)

    @property
    def label(self) -> str:
        return f"bandwidth-{self.rate}Bps"


@dataclass(frozen=True)
class MalformedResponse(Fault):
    """The answer breaks HTTP framing halfway through (a chunk header that is not hex)."""

    name: ClassVar[str] = "malformed_response"


@dataclass(frozen=True)
class EmptyResponse(Fault):
    """The connection closes without a single byte of answer."""

    name: ClassVar[str] = "empty_response"


@dataclass(frozen=True)
class CloseBeforeHeaders(Fault):
    """The status line arrives, then the connection closes before the headers end."""

    name: ClassVar[str] = "close_before_headers"


@dataclass(frozen=True)
class RandomBytes(Fault):
    """`size` random bytes arrive where the answer should be, then the connection closes."""

    name: ClassVar[str] = "random_bytes"
    size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        _count(self.name, "size (bytes)", self.size)


@dataclass(frozen=True)
class Truncated(Fault):
    """The first `size` bytes of the answer (status line and headers included), then a close."""

    name: ClassVar[str] = "truncated"
    size: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _count(self.name, "size (bytes)", self.size)

    @property
    def label(self) -> str:
        return f"truncated-{self.size}B"


@dataclass(frozen=True)
class Dribble(Fault):
    """The answer trickles in over `duration` seconds.

    By default the pieces come about `DRIBBLE_GAP` (10 ms) apart, so a per-read timeout never fires
    and only a deadline on the whole call ends it early (a slow-loris answer). The head goes at once
    and the body trickles; when the body has fewer bytes than the pieces needed, the head trickles
    too. `pieces=n` splits the body into n pieces instead, `piece_size=b` into pieces of b bytes
    (the head then goes at once): use them to model coarser stalls.
    """

    name: ClassVar[str] = "dribble"
    duration: float
    pieces: int | None = None
    piece_size: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.name, "duration", self.duration, positive=True)
        if self.pieces is not None and self.piece_size is not None:
            raise FaultUsageError("dribble: give pieces= or piece_size=, not both")
        if self.pieces is not None:
            _count(self.name, "pieces", self.pieces)
        if self.piece_size is not None:
            _count(self.name, "piece_size (bytes)", self.piece_size)

    @property
    def label(self) -> str:
        return f"dribble-{_millis(self.duration)}"

    def plan(self, head: bytes, body: bytes) -> tuple[bytes, list[bytes]]:
        """(bytes sent at once, pieces sent evenly over `duration`) for one answer."""
        if self.piece_size is not None:
            return head, _split(body, math.ceil(len(body) / self.piece_size)) if body else [b""]
        if self.pieces is not None:
            return head, _split(body, self.pieces) if body else [b""]
        wanted = max(1, round(self.duration / DRIBBLE_GAP))
        if len(body) >= wanted:
            return head, _split(body, wanted)
        return b"", _split(head + body, wanted)


def _split(data: bytes, pieces: int) -> list[bytes]:
    """`data` in `pieces` nearly equal pieces (fewer when it has fewer bytes), none empty."""
    count = max(1, min(pieces, len(data)))
    return [data[len(data) * index // count : len(data) * (index + 1) // count] for index in range(count)]


# -- TLS: what goes wrong in the handshake ---------------------------------------------------------
TlsVersion = Literal["TLSv1", "TLSv1.1"]
TLS_VERSIONS: tuple[TlsVersion, ...] = ("TLSv1", "TLSv1.1")


@dataclass(frozen=True)
class TlsFault(Fault):
    """Base of the TLS faults: the handshake goes wrong. `symptom` is the text of the error a
    verifying client sees in production (what an in-process layer fakes, and what docs quote)."""

    name: ClassVar[str] = "tls"
    symptom: ClassVar[str] = ""


@dataclass(frozen=True)
class ExpiredCertificate(TlsFault):
    """The server presents a certificate whose validity ended (notAfter in the past)."""

    name: ClassVar[str] = "expired_certificate"
    symptom: ClassVar[str] = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"


@dataclass(frozen=True)
class NotYetValidCertificate(TlsFault):
    """The server presents a certificate whose validity has not begun (notBefore in the future)."""

    name: ClassVar[str] = "not_yet_valid_certificate"
    symptom: ClassVar[str] = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not yet valid"


@dataclass(frozen=True)
class WrongHost(TlsFault):
    """The server presents a valid certificate issued for `host`, not for the name the client dialled."""

    name: ClassVar[str] = "wrong_host"
    symptom: ClassVar[str] = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid"
    host: str = "wrong-host.pytest-ipc.test"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.host, str) or not self.host or any(char.isspace() for char in self.host):
            raise FaultUsageError(f"wrong_host: host must be a non-empty host name without spaces, got {self.host!r}")


@dataclass(frozen=True)
class UnknownCa(TlsFault):
    """The server's certificate is issued by a certificate authority the client does not trust."""

    name: ClassVar[str] = "unknown_ca"
    symptom: ClassVar[str] = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"


@dataclass(frozen=True)
class SelfSigned(TlsFault):
    """The server presents a certificate it signed itself."""

    name: ClassVar[str] = "self_signed"
    symptom: ClassVar[str] = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"


@dataclass(frozen=True)
class ClientCertRequired(TlsFault):
    """The server requires a client certificate (mTLS); a client without one is refused."""

    name: ClassVar[str] = "client_cert_required"
    symptom: ClassVar[str] = "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"


@dataclass(frozen=True)
class ClientCertRejected(TlsFault):
    """The server requires a client certificate and trusts none the client may hold (another CA)."""

    name: ClassVar[str] = "client_cert_rejected"
    symptom: ClassVar[str] = "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"


@dataclass(frozen=True)
class ClientCertExpired(TlsFault):
    """The server requires a client certificate and refuses the client's as expired."""

    name: ClassVar[str] = "client_cert_expired"
    symptom: ClassVar[str] = "[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired"


@dataclass(frozen=True)
class HandshakeStall(TlsFault):
    """The ClientHello is taken and never answered: only the client's connect timeout ends the call."""

    name: ClassVar[str] = "handshake_stall"
    symptom: ClassVar[str] = "_ssl.c: The handshake operation timed out"


@dataclass(frozen=True)
class HandshakeReset(TlsFault):
    """The connection is reset (TCP RST) when the ClientHello arrives."""

    name: ClassVar[str] = "handshake_reset"
    symptom: ClassVar[str] = "[Errno 104] Connection reset by peer"


@dataclass(frozen=True)
class OldProtocol(TlsFault):
    """The server speaks only an old protocol `version` ("TLSv1" or "TLSv1.1"), which a current client refuses."""

    name: ClassVar[str] = "old_protocol"
    symptom: ClassVar[str] = "[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol"
    version: TlsVersion = "TLSv1"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.version not in TLS_VERSIONS:
            raise FaultUsageError(f"old_protocol: unknown version {self.version!r}; choose one of: {', '.join(TLS_VERSIONS)}")

    @property
    def label(self) -> str:
        return f"old-protocol-{self.version.lower().replace('.', '')}"


# -- DNS: what goes wrong when a client looks a service up ---------------------------------------------
@dataclass(frozen=True)
class DnsFault(Fault):
    """Base of the faults only a name server can perform (the dns layer, `ipc_dns`). A timeout is
    `hang()` (the query is never answered) and a slow answer `latency(delay)`, as for any server."""

    name: ClassVar[str] = "dns"


@dataclass(frozen=True)
class NxDomain(DnsFault):
    """The name server says the name does not exist (rcode NXDOMAIN): the service was deleted, or a typo."""

    name: ClassVar[str] = "nxdomain"


@dataclass(frozen=True)
class ServFail(DnsFault):
    """The name server fails the lookup (rcode SERVFAIL): its upstream or zone is broken, try later."""

    name: ClassVar[str] = "servfail"


@dataclass(frozen=True)
class RecordsChanged(DnsFault):
    """The answers no longer list the first `drop` addresses (and SRV targets) of each name: those
    instances moved away mid-test. A client that caches answers past their TTL keeps calling them."""

    name: ClassVar[str] = "records_changed"
    drop: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _count(self.name, "drop (addresses)", self.drop)

    @property
    def label(self) -> str:
        return f"records-changed-drop-{self.drop}"


@dataclass(frozen=True)
class ZeroTtl(DnsFault):
    """Answers carry a TTL of 0: a client must not cache them at all (a service being moved)."""

    name: ClassVar[str] = "zero_ttl"


FAULTS: dict[str, type[Fault]] = {
    kind.name: kind
    for kind in (
        Latency, Hang, Outage, Reset, Status, GrpcStatus, ThriftError, ConnectTimeout, ReadTimeout, Bandwidth, MalformedResponse,
        EmptyResponse, CloseBeforeHeaders, RandomBytes, Truncated, Dribble, ExpiredCertificate,
        NotYetValidCertificate, WrongHost, UnknownCa, SelfSigned, ClientCertRequired, ClientCertRejected,
        ClientCertExpired, HandshakeStall, HandshakeReset, OldProtocol, NxDomain, ServFail, RecordsChanged, ZeroTtl,
    )
}  # fmt: skip


def make(name: str, **params: object) -> Fault:
    """A fault from its name and parameters, e.g. ``make("latency", delay=0.2)``; bad input names
    the choices."""
    kind = FAULTS.get(name)
    if kind is None:
        raise FaultUsageError(f"unknown fault {name!r}; choose one of: {', '.join(FAULTS)}")
    allowed = [field.name for field in fields(kind)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise FaultUsageError(f"{name}: unknown parameter(s) {', '.join(unknown)}; {name} takes: {', '.join(allowed)}")
    missing = [field.name for field in fields(kind) if field.default is MISSING and field.name not in params]
    if missing:
        raise FaultUsageError(f"{name}: missing parameter(s) {', '.join(missing)}; {name} takes: {', '.join(allowed)}")
    return kind(**params)  # type: ignore[arg-type]  # checked against the fields above


# The short spellings users write: faults.latency(0.2), faults.status(503, retry_after=1) ...
def latency(delay: float, **common: Unpack[Common]) -> Latency:
    """Every answer `delay` seconds late (`Latency.uniform` / `Latency.lognormal` for spread)."""
    return Latency(delay=delay, **common)


def hang(**common: Unpack[Common]) -> Hang:
    """The request is taken and never answered."""
    return Hang(**common)


def outage(**common: Unpack[Common]) -> Outage:
    """Connections are refused."""
    return Outage(**common)


def reset(**common: Unpack[Common]) -> Reset:
    """The connection is reset once the request is sent."""
    return Reset(**common)


def status(code: int = 503, *, retry_after: int | None = None, body: str = "", **common: Unpack[Common]) -> Status:
    """The answer is `code` (with Retry-After and a body when given)."""
    return Status(code=code, retry_after=retry_after, body=body, **common)


def fail_first(times: int, *, status: int = 503, retry_after: int | None = None) -> Status:
    """The first `times` requests get `status`, later ones the real answer: ``status(status, times=times)``."""
    return Status(code=status, retry_after=retry_after, times=times)


def grpc_status(
    code: str = "UNAVAILABLE", *, details: str = "", pushback: float | None = None, after: int = 0, **common: Unpack[Common]
) -> GrpcStatus:
    """An RPC ends with status `code` (by name), with `grpc-retry-pushback-ms` when `pushback` seconds are given."""
    return GrpcStatus(code=code, details=details, pushback=pushback, after=after, **common)


def abort_stream(after: int, code: str = "UNAVAILABLE", *, details: str = "", **common: Unpack[Common]) -> GrpcStatus:
    """A response stream breaks off with `code` after `after` messages."""
    return GrpcStatus(code=code, details=details, after=after, **common)


def thrift_error(error: str | BaseException = "INTERNAL_ERROR", *, message: str = "", **common: Unpack[Common]) -> ThriftError:
    """A Thrift call ends with a `TApplicationException` of this type ("INTERNAL_ERROR", "UNKNOWN_METHOD"...),
    or with `error` itself when it is an instance of an exception the IDL declares for the method."""
    if isinstance(error, BaseException):
        return ThriftError(exception=error, message=message, **common)
    return ThriftError(kind=error, message=message, **common)


def connect_timeout(**common: Unpack[Common]) -> ConnectTimeout:
    """The connect attempt times out (respx)."""
    return ConnectTimeout(**common)


def read_timeout(**common: Unpack[Common]) -> ReadTimeout:
    """The read times out (respx)."""
    return ReadTimeout(**common)


def bandwidth(rate: int, **common: Unpack[Common]) -> Bandwidth:
    """Answers flow at `rate` bytes per second."""
    return Bandwidth(rate=rate, **common)


def malformed_response(**common: Unpack[Common]) -> MalformedResponse:
    """The answer's framing breaks halfway."""
    return MalformedResponse(**common)


def empty_response(**common: Unpack[Common]) -> EmptyResponse:
    """The connection closes without an answer."""
    return EmptyResponse(**common)


def close_before_headers(**common: Unpack[Common]) -> CloseBeforeHeaders:
    """Only the status line arrives."""
    return CloseBeforeHeaders(**common)


def random_bytes(size: int = 256, **common: Unpack[Common]) -> RandomBytes:
    """`size` bytes of garbage instead of an answer."""
    return RandomBytes(size=size, **common)


def truncated(size: int, **common: Unpack[Common]) -> Truncated:
    """The first `size` bytes of the answer, then a close."""
    return Truncated(size=size, **common)


def dribble(duration: float, *, pieces: int | None = None, piece_size: int | None = None, **common: Unpack[Common]) -> Dribble:
    """The answer trickles in over `duration` seconds (see `Dribble` for the pieces)."""
    return Dribble(duration=duration, pieces=pieces, piece_size=piece_size, **common)


def expired_certificate(**common: Unpack[Common]) -> ExpiredCertificate:
    """The server's certificate has expired."""
    return ExpiredCertificate(**common)


def not_yet_valid_certificate(**common: Unpack[Common]) -> NotYetValidCertificate:
    """The server's certificate is not valid yet."""
    return NotYetValidCertificate(**common)


def wrong_host(host: str = "wrong-host.pytest-ipc.test", **common: Unpack[Common]) -> WrongHost:
    """The server's certificate is for `host`, not the name the client dialled."""
    return WrongHost(host=host, **common)


def unknown_ca(**common: Unpack[Common]) -> UnknownCa:
    """The server's certificate comes from a CA the client does not trust."""
    return UnknownCa(**common)


def self_signed(**common: Unpack[Common]) -> SelfSigned:
    """The server's certificate is self-signed."""
    return SelfSigned(**common)


def client_cert_required(**common: Unpack[Common]) -> ClientCertRequired:
    """The server requires a client certificate (mTLS)."""
    return ClientCertRequired(**common)


def client_cert_rejected(**common: Unpack[Common]) -> ClientCertRejected:
    """The server requires a client certificate and trusts none the client holds."""
    return ClientCertRejected(**common)


def client_cert_expired(**common: Unpack[Common]) -> ClientCertExpired:
    """The server refuses the client's certificate as expired."""
    return ClientCertExpired(**common)


def handshake_stall(**common: Unpack[Common]) -> HandshakeStall:
    """The ClientHello is never answered."""
    return HandshakeStall(**common)


def handshake_reset(**common: Unpack[Common]) -> HandshakeReset:
    """The connection is reset when the ClientHello arrives."""
    return HandshakeReset(**common)


def old_protocol(version: TlsVersion = "TLSv1", **common: Unpack[Common]) -> OldProtocol:
    """The server speaks only an old protocol version."""
    return OldProtocol(version=version, **common)


def nxdomain(**common: Unpack[Common]) -> NxDomain:
    """The name server answers NXDOMAIN: the name does not exist."""
    return NxDomain(**common)


def servfail(**common: Unpack[Common]) -> ServFail:
    """The name server answers SERVFAIL: the lookup failed, try later."""
    return ServFail(**common)


def records_changed(drop: int = 1, **common: Unpack[Common]) -> RecordsChanged:
    """The answers leave out the first `drop` addresses of each name: those instances moved away."""
    return RecordsChanged(drop=drop, **common)


def zero_ttl(**common: Unpack[Common]) -> ZeroTtl:
    """Answers carry a TTL of 0: nothing may be cached."""
    return ZeroTtl(**common)
