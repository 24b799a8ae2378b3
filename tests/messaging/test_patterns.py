"""Point-to-point and pub/sub on every transport, through the real client libraries."""

from __future__ import annotations

import pytest

from pytest_ipc.messaging import Bus, Message
from pytest_ipc.messaging.assertions import assert_nothing_lost


def test_a_message_keeps_its_body_headers_and_ids(bus: Bus) -> None:
    orders = bus.queue("orders")
    capture = orders.capture()
    sent = orders.publish(Message(b"\x00binary\xff", headers={"tenant": "acme"}, correlation_id="c-1", reply_to="answers"))

    [received] = capture.wait_for_count(1)

    assert received == sent


def test_point_to_point_gives_each_message_to_exactly_one_consumer(bus: Bus) -> None:
    orders = bus.queue("orders")
    first, second = orders.capture(), orders.capture()

    sent = [orders.publish(f"order {n}".encode()) for n in range(40)]

    first.wait_for(lambda _: len(first) + len(second) >= 40)
    received = first.messages + second.messages
    assert_nothing_lost(sent, received)
    assert len(received) == 40, "a message reached more than one competing consumer"
    assert len(first) > 0 and len(second) > 0, f"no load sharing: {len(first)} / {len(second)}"


def test_pub_sub_gives_every_subscriber_every_message(bus: Bus) -> None:
    prices = bus.topic("prices")
    subscribers = [prices.capture() for _ in range(3)]

    sent = [prices.publish(f"tick {n}".encode()) for n in range(10)]

    for subscriber in subscribers:
        assert_nothing_lost(sent, subscriber.wait_for_count(10))
        assert subscriber.bodies == [message.body for message in sent]


def test_queues_of_different_names_do_not_mix(bus: Bus) -> None:
    orders, invoices = bus.queue("orders"), bus.queue("invoices")
    orders_capture, invoices_capture = orders.capture(), invoices.capture()

    orders.publish(b"order")
    invoices.publish(b"invoice")

    assert orders_capture.wait_for_count(1)[0].body == b"order"
    assert invoices_capture.wait_for_count(1)[0].body == b"invoice"
    assert len(orders_capture) == len(invoices_capture) == 1


def test_system_broker_round_trip(system_bus: Bus) -> None:
    """External coverage: the adapters against brokers pytest-ipc did not start."""
    jobs = system_bus.queue("jobs")
    capture = jobs.capture()
    sent = [jobs.publish(f"job {n}".encode()) for n in range(5)]
    assert_nothing_lost(sent, capture.wait_for_count(5))


def test_waiting_for_what_never_comes_fails_with_what_did(system_bus: Bus) -> None:
    jobs = system_bus.queue("jobs")
    capture = jobs.capture()
    jobs.publish(b"only one")

    with pytest.raises(AssertionError, match=r"expected 2 message\(s\).*1 message\(s\) arrived: \[b'only one'\]"):
        capture.wait_for_count(2, timeout=0.3)
