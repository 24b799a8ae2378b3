"""Impossible arguments to the assertions and adapters are usage errors, raised before any call."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pytest_ipc import faults
from pytest_ipc.resilience import (
    BreakerStates,
    ResilienceUsageError,
    aio,
    assert_breaker,
    assert_fallback,
    assert_request_cap,
    assert_retries,
    assert_retry_jitter,
    assert_timeout_honoured,
    exponential,
    watch_circuitbreaker,
)
from pytest_ipc.stub import HttpStub


def never_called() -> None:
    raise AssertionError("bad input must be refused before the call")


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda stub: assert_timeout_honoured(never_called, budget=0), r"budget must be a finite number of seconds > 0, got 0"),
        (lambda stub: assert_timeout_honoured(never_called, budget=float("inf")), r"budget must be a finite number"),
        (lambda stub: assert_timeout_honoured(never_called, budget=1, slack=-1), r"slack must be"),
        (lambda stub: assert_fallback(never_called, 1, within=0), r"within must be"),
        (lambda stub: assert_retries([], retries=-1), r"retries must be an int >= 0 \(attempts minus one\), got -1"),
        (lambda stub: assert_retries([], retries=0, tolerance=0), r"tolerance must be"),
        (lambda stub: exponential(0.1, multiplier=0.5), r"multiplier must be a number >= 1, got 0.5"),
        (lambda stub: assert_request_cap(stub, 0, call=never_called), r"limit must be an int >= 1, got 0"),
        (
            lambda stub: assert_request_cap(stub, 2, call=never_called, concurrency=2),
            r"concurrency must be an int above the limit \(2\) to test the cap, got 2",
        ),
        (lambda stub: assert_request_cap(stub, 2, call=never_called, hold=0.01), r"hold \(0.01 s\) must be longer than fail_fast"),
        (lambda stub: assert_breaker(never_called, stub, threshold=0, cool_down=1), r"threshold must be an int >= 1"),
        (lambda stub: assert_breaker(never_called, stub, threshold=1, cool_down=-1), r"cool_down must be"),
        (lambda stub: assert_breaker(never_called, stub, threshold=1, cool_down=1, concurrent=1), r"concurrent must be an int >= 2"),
        (
            lambda stub: assert_breaker(never_called, stub, threshold=1, cool_down=1, failure=faults.outage()),
            r"outage cannot be injected at the stub layer",
        ),
        (
            lambda stub: assert_breaker(never_called, stub, threshold=1, cool_down=1, not_counted=[404]),
            r"failure and not_counted take faults from pytest_ipc.faults",
        ),
        (lambda stub: assert_retry_jitter(never_called, stub, clients=1), r"clients must be an int >= 2, got 1"),
        (lambda stub: assert_retry_jitter(never_called, stub, window=0), r"window must be a finite number of seconds > 0"),
        (
            lambda stub: assert_fallback("http://x", 1),
            r"expected a callable that makes one client call \(e.g. lambda: client.get\(url\)\), got 'http://x'",
        ),
        (
            lambda stub: BreakerStates().assert_states("opened"),
            r"unknown breaker state\(s\) \['opened'\]; choose from: closed, open, half-open",
        ),
    ],
)
def test_bad_arguments(http_stub: HttpStub, check, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ResilienceUsageError if "injected" not in message else faults.FaultNotSupported, match=message):
        check(http_stub)
    assert http_stub.calls() == [] and http_stub.faults == []


def test_an_aio_assertion_needs_an_async_call(http_stub: HttpStub) -> None:
    with pytest.raises(ResilienceUsageError, match=r"the aio assertions take an async call"):
        asyncio.run(aio.assert_fallback(lambda: 1, 1))


def test_backoff_list_must_match_the_retries(http_stub: HttpStub) -> None:
    http_stub.expect("GET", "/").respond()
    for _ in range(3):
        httpx.get(http_stub.url_for("/"))
    with pytest.raises(ResilienceUsageError, match=r"backoff lists 1 pause\(s\) for 2 retries; give one per retry"):
        assert_retries(http_stub.calls(), retries=2, backoff=[0.1])


def test_unknown_library_state_is_named() -> None:
    class Odd:
        state = "ajar"

    with pytest.raises(ResilienceUsageError, match=r"unknown breaker state 'ajar'; known: closed, open, opened, half-open, half-opened"):
        watch_circuitbreaker(Odd())
