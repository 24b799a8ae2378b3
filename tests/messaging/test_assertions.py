"""The verdicts and publisher-side fault wrappers on their own: for each verdict, the evidence of a
broken client it catches (naming the defect) and of a correct one it passes."""

from __future__ import annotations

import threading

import pytest

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc.messaging import Capture, Message
from pytest_ipc.messaging.assertions import (
    IdempotencyProbe,
    assert_exactly_once_effect,
    assert_nothing_lost,
    assert_nothing_lost_across_restart,
    assert_poison_dead_lettered,
)
from pytest_ipc.messaging.faults import ConsumerCrash, CrashMidProcessing, duplicate, reorder
from pytest_ipc.messaging.request_reply import ResponderRecord, RoundTrip, assert_all_correlated, echo_reply


def test_nothing_lost_accepts_duplicates_and_any_order() -> None:
    assert_nothing_lost(["a", "b", "c"], ["c", "a", "a", "b"])


def test_nothing_lost_lists_missing_and_never_sent_ids() -> None:
    with pytest.raises(IpcAssertionError) as failure:
        assert_nothing_lost(["a", "b", "c"], [Message(b"", message_id="a"), Message(b"", message_id="z")])
    assert str(failure.value) == (
        "expected every one of 3 sent message(s) to arrive; 2 lost\n"
        "  missing: b, c\n  received but never sent (1): z"
    )


def crash_run(ack_before_processing: bool) -> tuple[list[str], list[str], CrashMidProcessing[str]]:
    """A consumer over an in-memory queue that crashes while processing the 2nd message, then a
    fresh consumer; the broker hands back what was not acked, as a real one does."""
    sent, processed = ["m1", "m2", "m3"], list[str]()
    crash = CrashMidProcessing(processed.append, message_id=lambda item: item, at=2)
    queue = list(sent)
    while queue:
        message = queue[0]
        if ack_before_processing:
            queue.pop(0)
        try:
            crash(message)
        except ConsumerCrash:
            continue  # the consumer died; its successor starts on what the broker still has
        if not ack_before_processing:
            queue.pop(0)
    return sent, processed, crash


def test_nothing_lost_through_a_crash_names_an_ack_before_processing() -> None:
    sent, processed, crash = crash_run(ack_before_processing=True)
    with pytest.raises(IpcAssertionError, match=r"m2 was being processed when the consumer crashed and was never "
                       r"delivered again: the consumer acknowledged it before processing it"):
        assert_nothing_lost(sent, processed, crash=crash)


def test_nothing_lost_through_a_crash_passes_an_ack_after_processing() -> None:
    sent, processed, crash = crash_run(ack_before_processing=False)
    assert crash.crashed_on == "m2" and "m2" in crash.seen_after_crash
    assert_nothing_lost(sent, processed, crash=crash)


def test_a_crash_that_never_fired_fails_the_verdict() -> None:
    crash = CrashMidProcessing(lambda item: None, message_id=str, at=5)
    crash("only one")
    with pytest.raises(IpcAssertionError, match=r"crash was injected at processing call 5 but never fired \(measured 1"):
        assert_nothing_lost(["only one"], ["only one"], crash=crash)


def test_losses_before_a_restart_name_a_publisher_without_confirms() -> None:
    with pytest.raises(IpcAssertionError) as failure:
        assert_nothing_lost_across_restart(before=["b1", "b2"], after=["a1"], received=["b1", "a1"])
    message = str(failure.value)
    assert "1 message(s) reported as sent before the restart never arrived: the publisher does not wait for publisher confirms" in message
    assert "did not reconnect" not in message
    assert "lost before the restart: b2" in message


def test_nothing_after_a_restart_names_a_consumer_that_did_not_reconnect() -> None:
    with pytest.raises(IpcAssertionError) as failure:
        assert_nothing_lost_across_restart(before=["b1"], after=["a1", "a2"], received=["b1"])
    message = str(failure.value)
    assert "none of the 2 message(s) published after the restart arrived: the consumer did not reconnect" in message
    assert "publisher confirms" not in message


def test_nothing_lost_across_a_restart_passes_duplicates() -> None:
    assert_nothing_lost_across_restart(before=["b1"], after=["a1"], received=["b1", "b1", "a1"])


def test_exactly_once_names_duplicated_missing_and_unknown_effects() -> None:
    with pytest.raises(IpcAssertionError) as failure:
        assert_exactly_once_effect(["a", "a", "a", "c", "x"], ["a", "b", "c"])
    assert str(failure.value) == (
        "expected exactly one effect per message; measured 5 effect(s) for 3 message(s)\n"
        "  1 message(s) took effect more than once: the consumer is not idempotent under duplicate "
        "delivery; remember the ids of messages already handled and skip repeats\n"
        "  duplicated: a x3\n  missing: b\n  for unknown messages: x"
    )


def test_a_missing_effect_is_not_called_a_lack_of_idempotency() -> None:
    with pytest.raises(IpcAssertionError) as failure:
        assert_exactly_once_effect(["a"], ["a", "b"])
    assert "idempotent" not in str(failure.value)


def test_probe_records_from_many_threads() -> None:
    probe = IdempotencyProbe()
    threads = [threading.Thread(target=probe.record, args=(str(n),)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    probe.assert_exactly_once([str(n) for n in range(50)])


def test_poison_requeued_forever_is_named() -> None:
    with pytest.raises(IpcAssertionError, match=r"attempted 40 times, more than max_attempts=3, and never "
                       r"dead-lettered: the consumer requeues a message it can never process"):
        assert_poison_dead_lettered("p", attempts=["p"] * 40 + ["g"], dead_lettered=[], others=["g"],
                                    processed=["g"], max_attempts=3)


def test_poison_blocking_the_queue_is_named() -> None:
    with pytest.raises(IpcAssertionError, match=r"2 other message\(s\) were never processed: the poison message blocks the queue"):
        assert_poison_dead_lettered("p", attempts=["p"] * 9, dead_lettered=[], others=["g1", "g2"],
                                    processed=[], max_attempts=3)


def test_poison_dropped_is_not_called_a_redelivery_loop() -> None:
    with pytest.raises(IpcAssertionError) as failure:
        assert_poison_dead_lettered("p", attempts=["p"], dead_lettered=[], others=[], processed=[], max_attempts=3)
    assert "never reached the dead-letter queue: it was dropped" in str(failure.value)
    assert "forever" not in str(failure.value)


def test_poison_dead_lettered_after_its_attempts_passes() -> None:
    assert_poison_dead_lettered("p", attempts=["p", "p", "p", "g"], dead_lettered=["p"], others=["g"],
                                processed=["g"], max_attempts=3)


# -- request/reply ------------------------------------------------------------------------------------


def served(responder: ResponderRecord, requests: list[Message]) -> list[Message]:
    """The replies `responder` computes for `requests`, as if it had received them."""
    return [responder._reply_to(request)[1] for request in requests]


def test_a_correct_client_whose_messages_carry_no_id_of_ours_passes() -> None:
    """The regression: a client correlating by a reply inbox per request, with no correlation id,
    whose requests and replies were rebuilt from bodies (fresh message ids) by the test."""
    responder = ResponderRecord(echo_reply)
    requests = [Message(f"q{n}".encode(), reply_to=f"_INBOX.{n}") for n in range(20)]
    served(responder, requests)
    trips = [RoundTrip(Message(request.body), Message(echo_reply(request))) for request in requests]
    assert_all_correlated(trips, responder=responder)
    assert_all_correlated(trips)  # by the expected body, without the responder


def test_a_client_that_takes_the_first_reply_is_named() -> None:
    responder = ResponderRecord(echo_reply)
    requests = [Message(f"q{n}".encode(), correlation_id=f"c{n}", reply_to="replies") for n in range(3)]
    replies = served(responder, requests)
    trips = [RoundTrip(requests[0], replies[0]), RoundTrip(requests[1], replies[0]), RoundTrip(requests[2], None)]
    with pytest.raises(IpcAssertionError) as failure:
        assert_all_correlated(trips, responder=responder)
    assert str(failure.value) == (
        "expected every request to get its own reply; among 3 request/reply pair(s): 1 unanswered, "
        "1 given another request's reply\n"
        "  the client ignores correlation ids: it took the reply carrying correlation id c0 for its request "
        "carrying c1; match each reply to its request by correlation id and drop replies nobody waits for\n"
        "  wrong pair: request b'q1' got reply b're:q0', the reply to request b'q0'\n"
        "  unanswered: request b'q2': no reply"
    )


def test_requests_without_correlation_ids_on_one_reply_address_are_named() -> None:
    responder = ResponderRecord(echo_reply)
    requests = [Message(f"q{n}".encode(), reply_to="replies") for n in range(2)]
    replies = served(responder, requests)
    with pytest.raises(IpcAssertionError, match="requests carry no correlation id and share one reply address"):
        assert_all_correlated([RoundTrip(requests[0], replies[1]), RoundTrip(requests[1], replies[0])], responder=responder)


def test_without_a_responder_the_body_or_the_correlation_id_judges() -> None:
    request = Message(b"q", correlation_id="c")
    with pytest.raises(IpcAssertionError, match=r"wrong pair: request b'q' got reply b'wrong', expected b're:q'"):
        assert_all_correlated([RoundTrip(request, Message(b"wrong", correlation_id="c"))])
    assert_all_correlated([RoundTrip(request, Message(b"anything", correlation_id="c"))], expected_reply=None)
    with pytest.raises(IpcAssertionError, match="the client ignores correlation ids"):
        assert_all_correlated([RoundTrip(request, Message(b"x", correlation_id="d"))], expected_reply=None)
    with pytest.raises(IpcUsageError, match="carries no correlation id and no expected_reply was given"):
        assert_all_correlated([RoundTrip(Message(b"q"), Message(b"x"))], expected_reply=None)


def test_request_bodies_must_be_distinct() -> None:
    with pytest.raises(IpcUsageError, match=r"request bodies must be distinct.*b'q' was sent 2 times"):
        assert_all_correlated([RoundTrip(Message(b"q"), None), RoundTrip(Message(b"q"), None)])


# -- publisher-side wrappers ---------------------------------------------------------------------------


def test_duplicate_repeats_the_seeded_share() -> None:
    sent: list[int] = []
    twice = duplicate(sent.append, probability=0.5, seed=4)
    for n in range(100):
        twice(n)
    assert len(sent) == 100 + twice.duplicated
    assert 30 < twice.duplicated < 70
    with pytest.raises(IpcUsageError, match="between 0 and 1"):
        duplicate(sent.append, probability=1.5)


def test_reorder_never_keeps_a_window_in_order_and_drains_a_partial_one() -> None:
    sent = Capture("reordered")
    shuffled = reorder(sent.add, window=2, max_delay=0.05)
    for n in range(6):
        shuffled(Message(str(n).encode()))
    assert sent.bodies == [b"1", b"0", b"3", b"2", b"5", b"4"]
    shuffled(Message(b"6"))
    assert sent.wait_for_count(7, timeout=5)[-1].body == b"6", "a partial window was never released"
    with pytest.raises(IpcUsageError, match="at least 2"):
        reorder(sent.add, window=1)
