"""The assertion helpers and publisher-side fault wrappers on their own: what they report, and that
they report it only when something is wrong."""

from __future__ import annotations

import threading

import pytest

from pytest_ipc.messaging import Capture, Message
from pytest_ipc.messaging.assertions import (
    IdempotencyProbe,
    assert_exactly_once_effect,
    assert_nothing_lost,
)
from pytest_ipc.messaging.faults import duplicate, reorder
from pytest_ipc.messaging.request_reply import RoundTrip, assert_all_correlated


def test_nothing_lost_accepts_duplicates_and_any_order() -> None:
    assert_nothing_lost(["a", "b", "c"], ["c", "a", "a", "b"])


def test_nothing_lost_lists_missing_and_never_sent_ids() -> None:
    with pytest.raises(AssertionError) as failure:
        assert_nothing_lost(["a", "b", "c"], [Message(b"", message_id="a"), Message(b"", message_id="z")])
    assert str(failure.value) == (
        "2 of 3 sent message(s) lost\n  missing: b, c\n  received but never sent (1): z"
    )


def test_exactly_once_names_duplicated_missing_and_unknown_effects() -> None:
    with pytest.raises(AssertionError) as failure:
        assert_exactly_once_effect(["a", "a", "a", "c", "x"], ["a", "b", "c"])
    assert str(failure.value) == (
        "effects are not exactly once per message (5 effect(s) for 3 message(s))\n"
        "  duplicated: a x3\n  missing: b\n  for unknown messages: x"
    )


def test_probe_records_from_many_threads() -> None:
    probe = IdempotencyProbe()
    threads = [threading.Thread(target=probe.record, args=(str(n),)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    probe.assert_exactly_once([str(n) for n in range(50)])


def test_all_correlated_reports_each_kind_of_problem() -> None:
    first, second, third = (Message(f"q{n}".encode(), correlation_id=f"c{n}") for n in range(3))
    reply_to_first = Message(b"re:q0", correlation_id="c0", message_id="r0")
    trips = [
        RoundTrip(first, reply_to_first),
        RoundTrip(second, reply_to_first),
        RoundTrip(third, None),
    ]
    with pytest.raises(AssertionError) as failure:
        assert_all_correlated(trips)
    assert str(failure.value) == (
        "1 unmatched, 1 mismatched, 1 duplicate among 3 request/reply pair(s)\n"
        "  unmatched: request c2 b'q2': no reply\n"
        "  mismatched: request c1 b'q1' got reply c0 b're:q0'\n"
        "  duplicate: reply r0 paired with 2 requests"
    )


def test_all_correlated_checks_the_body_as_well_as_the_id() -> None:
    request = Message(b"q", correlation_id="c")
    with pytest.raises(AssertionError, match="mismatched: request c b'q' got reply c b'wrong'"):
        assert_all_correlated([RoundTrip(request, Message(b"wrong", correlation_id="c"))])
    assert_all_correlated([RoundTrip(request, Message(b"anything", correlation_id="c"))], expected_reply=None)


def test_duplicate_repeats_the_seeded_share() -> None:
    sent: list[int] = []
    twice = duplicate(sent.append, probability=0.5, seed=4)
    for n in range(100):
        twice(n)
    assert len(sent) == 100 + twice.duplicated
    assert 30 < twice.duplicated < 70
    with pytest.raises(ValueError, match="between 0 and 1"):
        duplicate(sent.append, probability=1.5)


def test_reorder_never_keeps_a_window_in_order_and_drains_a_partial_one() -> None:
    sent = Capture("reordered")
    shuffled = reorder(sent.add, window=2, max_delay=0.05)
    for n in range(6):
        shuffled(Message(str(n).encode()))
    assert sent.bodies == [b"1", b"0", b"3", b"2", b"5", b"4"]
    shuffled(Message(b"6"))
    assert sent.wait_for_count(7, timeout=5)[-1].body == b"6", "a partial window was never released"
    with pytest.raises(ValueError, match="at least 2"):
        reorder(sent.add, window=1)
