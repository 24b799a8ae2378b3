"""Request/reply: a correlating client copes with concurrency, duplicate and reordered replies; a
client that pairs replies by arrival order, or ignores correlation ids, is caught."""

from __future__ import annotations

import pytest

from pytest_ipc.messaging import Bus
from pytest_ipc.messaging.request_reply import (
    RequestReply,
    Responder,
    RoundTrip,
    assert_all_correlated,
)

REQUESTS = [f"question {n}".encode() for n in range(24)]


def test_correlated_client_pairs_every_reply_despite_duplicates_and_reordering(bus: Bus) -> None:
    requests = bus.queue("rpc")
    with Responder(requests, duplicate_probability=0.5, reorder_window=4, seed=7) as responder, \
            RequestReply(requests) as client:
        round_trips = client.request_all(REQUESTS, concurrency=8)

        assert_all_correlated(round_trips, responder=responder)
        assert_all_correlated(round_trips)  # by the bodies alone
        assert responder.served == len(REQUESTS)
        assert client.duplicate_replies > 0, "the responder injected no duplicates: the test proves nothing"
        arrival = [reply.correlation_id for reply in client.replies.messages]
        sent = [request.correlation_id for request in client.requests]
        assert arrival[: len(sent)] != sent, "replies arrived in request order: the reordering did nothing"


def test_requests_carry_reply_to_and_a_unique_correlation_id(bus: Bus) -> None:
    requests = bus.queue("rpc")
    seen = requests.capture()
    with RequestReply(requests) as client:
        client.send_all(REQUESTS[:5])
        received = seen.wait_for_count(5)
    assert {m.reply_to for m in received} == {client.reply_channel.address}
    assert len({m.correlation_id for m in received}) == 5


def naive_round_trips(client: RequestReply, timeout: float = 10.0) -> list[RoundTrip]:
    """The bug under test: pairing replies with requests by arrival order."""
    replies = client.replies.wait_for_count(len(client.requests), timeout)
    return [RoundTrip(request, reply) for request, reply in zip(client.requests, replies, strict=False)]


@pytest.mark.parametrize("bus", ["amqp", "redis", "nats", "mqtt"], indirect=True)
def test_client_pairing_by_arrival_order_is_caught(bus: Bus) -> None:
    requests = bus.queue("rpc")
    with Responder(requests, duplicate_probability=0.3, reorder_window=4, seed=3) as responder, \
            RequestReply(requests) as client:
        client.send_all(REQUESTS, concurrency=1)
        round_trips = naive_round_trips(client)

        with pytest.raises(AssertionError, match=r"the client ignores correlation ids(.|\n)*wrong pair: request b'question \d+' got reply"):
            assert_all_correlated(round_trips, responder=responder)


@pytest.mark.parametrize("bus", ["amqp", "nats"], indirect=True)
def test_one_at_a_time_client_ignoring_correlation_ids_is_caught_by_a_duplicate(bus: Bus) -> None:
    """No concurrency and no reordering: a client that takes "the next reply" for each request still
    pairs the duplicate of reply 1 with request 2."""
    requests = bus.queue("rpc")
    with Responder(requests, duplicate_probability=1.0) as responder, RequestReply(requests) as client:
        round_trips: list[RoundTrip] = []
        for body in REQUESTS[:3]:
            [request] = client.send_all([body], concurrency=1)
            next_reply = client.replies.wait_for_count(len(round_trips) + 1)[len(round_trips)]
            round_trips.append(RoundTrip(request, next_reply))

        with pytest.raises(AssertionError, match=r"request b'question 1' got reply b're:question 0', the reply to request b'question 0'"):
            assert_all_correlated(round_trips, responder=responder)


@pytest.mark.parametrize("bus", ["redis", "mqtt"], indirect=True)
def test_requests_nobody_answers_are_listed_as_unmatched(bus: Bus) -> None:
    requests = bus.queue("rpc")
    with RequestReply(requests) as client:
        client.send_all(REQUESTS[:2])
        round_trips = client.wait_for_replies(timeout=0.3)
    with pytest.raises(AssertionError, match=r"2 unanswered, 0 given another request's reply"):
        assert_all_correlated(round_trips)
