"""Messaging faults against real brokers, each with the consumer behaviour it must catch."""

from __future__ import annotations

import threading
import uuid

import pika.exceptions
import pytest

from pytest_ipc.messaging import Bus, Capture, Delivery, Message, UnsupportedFeature
from pytest_ipc.messaging.assertions import (
    IdempotencyProbe,
    IdempotentConsumer,
    assert_nothing_lost,
    assert_poison_dead_lettered,
)
from pytest_ipc.messaging.faults import (
    DeadLetterAfter,
    Redeliver,
    consumer_down,
    duplicate,
    reorder,
)
from pytest_ipc.messaging.message import Handler

ACKING = ["amqp", "stomp", "redis", "jetstream"]
NOT_ACKING = ["nats", "mqtt"]


def recording(capture: Capture, handler: Handler) -> Handler:
    """Feeds every delivery into `capture` (to wait on) before `handler` sees it."""

    def handle(delivery: Delivery) -> None:
        capture.add(delivery.message)
        handler(delivery)

    return handle


# -- duplicate delivery -------------------------------------------------------------------------------


def test_duplicate_delivery_catches_a_consumer_that_is_not_idempotent(bus: Bus) -> None:
    payments = bus.queue("payments")
    deliveries, probe = Capture("deliveries"), IdempotencyProbe()
    payments.consume(recording(deliveries, lambda delivery: probe.record(delivery.message.message_id)))

    publish_twice = duplicate(payments.publish, probability=1.0)
    sent = [Message(f"charge {n}".encode()) for n in range(5)]
    for message in sent:
        publish_twice(message)
    deliveries.wait_for_count(10)

    with pytest.raises(
        AssertionError, match=r"the consumer is not idempotent under duplicate delivery.*\n  duplicated: (\w+ x2, ){4}\w+ x2"
    ):
        probe.assert_exactly_once(sent)


def test_duplicate_delivery_leaves_an_idempotent_consumer_with_one_effect_each(bus: Bus) -> None:
    payments = bus.queue("payments")
    deliveries, probe = Capture("deliveries"), IdempotencyProbe()
    consumer = IdempotentConsumer(lambda delivery: probe.record(delivery.message.message_id))
    payments.consume(recording(deliveries, consumer))

    publish_sometimes_twice = duplicate(payments.publish, probability=0.5, seed=1)
    sent = [Message(f"charge {n}".encode()) for n in range(20)]
    for message in sent:
        publish_sometimes_twice(message)
    deliveries.wait_for_count(20 + publish_sometimes_twice.duplicated)

    probe.assert_exactly_once(sent)
    assert len(consumer.skipped) == publish_sometimes_twice.duplicated > 0


# -- reordering ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bus", ["amqp", "redis", "nats"], indirect=True)
def test_reordering_breaks_a_last_write_wins_consumer_but_not_a_versioned_one(bus: Bus) -> None:
    balances = bus.queue("balances")
    capture = balances.capture()
    publish = reorder(balances.publish, window=5, seed=2, max_delay=10.0)  # two full windows, never a timed flush
    for version in range(1, 11):
        publish(Message(str(version).encode(), headers={"version": str(version)}))
    publish.close()
    received = capture.wait_for_count(10)

    last_arrived = int(received[-1].body)
    highest_version = max(received, key=lambda message: int(message.headers["version"]))
    assert [m.body for m in received] != [str(v).encode() for v in range(1, 11)], "nothing was reordered"
    assert int(highest_version.body) == 10
    assert last_arrived != 10, "the last-write-wins consumer would have the stale balance"


# -- redelivery after nack ----------------------------------------------------------------------------


@pytest.mark.parametrize("bus", ACKING, indirect=True)
def test_a_nacked_message_is_redelivered_marked_as_such(bus: Bus) -> None:
    jobs = bus.queue("jobs")
    done = Capture("done")
    redeliver = Redeliver(lambda delivery: done.add(delivery.message), times=2)
    jobs.consume(redeliver)

    sent = [jobs.publish(f"job {n}".encode()) for n in range(5)]

    assert_nothing_lost(sent, done.wait_for_count(5))
    assert len(done) == 5
    assert set(redeliver.nacks.values()) == {2}
    assert redeliver.redelivered_seen == {m.message_id for m in sent}


@pytest.mark.parametrize("bus", ACKING, indirect=True)
def test_a_consumer_that_skips_redelivered_messages_is_caught(bus: Bus) -> None:
    """The defect: taking "redelivered" for "already handled". Under `Redeliver` every message comes
    back marked so, and the skipped ones are lost; a consumer that handles them loses nothing."""
    skipping, handling = bus.queue("skipping"), bus.queue("handling")
    skipped_side, handled_side = Capture("skipping"), Capture("handling")

    def skip_redelivered(delivery: Delivery) -> None:
        if not delivery.redelivered:
            skipped_side.add(delivery.message)

    skipping.consume(Redeliver(skip_redelivered))
    handling.consume(Redeliver(lambda delivery: handled_side.add(delivery.message)))
    sent_skipping = [skipping.publish(f"job {n}".encode()) for n in range(3)]
    sent_handling = [handling.publish(f"job {n}".encode()) for n in range(3)]

    assert_nothing_lost(sent_handling, handled_side.wait_for_count(3))
    with pytest.raises(AssertionError, match=r"3 sent message\(s\) to arrive; 3 lost"):
        assert_nothing_lost(sent_skipping, skipped_side.messages)


@pytest.mark.parametrize("bus", ACKING, indirect=True)
def test_rejecting_without_requeue_or_dead_letter_queue_loses_messages(bus: Bus) -> None:
    """What assert_nothing_lost is for: a consumer that drops what it fails to handle."""
    jobs = bus.queue("jobs")
    attempts = Capture("attempts")

    def reject_odd(delivery: Delivery) -> None:
        attempts.add(delivery.message)
        if int(delivery.message.body) % 2:
            delivery.nack(requeue=False)

    jobs.consume(reject_odd)
    sent = [jobs.publish(str(n).encode()) for n in range(4)]
    attempts.wait_for_count(4)
    handled = [m for m in attempts.messages if int(m.body) % 2 == 0]

    with pytest.raises(AssertionError, match=r"4 sent message\(s\) to arrive; 2 lost\n  missing: "):
        assert_nothing_lost(sent, handled)


@pytest.mark.parametrize("bus", NOT_ACKING, indirect=True)
def test_nack_based_faults_name_the_transports_that_have_them(bus: Bus) -> None:
    with pytest.raises(UnsupportedFeature, match=rf"nack is not supported by {bus.transport}.*use one of: amqp, stomp, redis, jetstream"):
        bus.queue("jobs").consume(Redeliver(lambda delivery: None))


# -- poison message to the dead-letter queue ----------------------------------------------------------


def handle_or_choke(delivery: Delivery) -> None:
    if delivery.message.body == b"poison":
        raise ValueError("cannot parse this order")


@pytest.mark.parametrize("bus", ACKING, indirect=True)
def test_a_poison_message_ends_in_the_dead_letter_queue_after_its_retries(bus: Bus) -> None:
    orders = bus.queue("orders", dead_letter=True)
    dead_letters = orders.dead_letters.capture()
    processed = Capture("processed")
    consumer = DeadLetterAfter(recording(processed, handle_or_choke), max_attempts=3)
    orders.consume(consumer)

    good = [orders.publish(f"order {n}".encode()) for n in range(3)]
    poison = orders.publish(b"poison")
    more = [orders.publish(f"order {n}".encode()) for n in range(3, 6)]

    [dead] = dead_letters.wait_for_count(1)
    assert (dead.message_id, dead.body) == (poison.message_id, b"poison")
    assert consumer.failures == {poison.message_id: 3}
    processed.wait_for_ids({m.message_id for m in good + more})
    assert_nothing_lost(good + more + [poison], processed.messages)
    attempts = [m.message_id for m in processed.messages]
    assert_poison_dead_lettered(poison, attempts=attempts, dead_lettered=dead_letters.messages, others=good + more,
                                processed=[m for m in processed.messages if m.body != b"poison"], max_attempts=3)


@pytest.mark.parametrize("bus", ["amqp", "redis"], indirect=True)
def test_a_consumer_that_requeues_a_poison_message_forever_is_named(bus: Bus) -> None:
    orders = bus.queue("orders", dead_letter=True)
    attempts = Capture("attempts")

    def requeue_what_fails(delivery: Delivery) -> None:  # the defect: no limit, no dead-lettering
        attempts.add(delivery.message)
        if delivery.message.body == b"poison":
            delivery.nack(requeue=True)

    orders.consume(requeue_what_fails)
    poison = orders.publish(b"poison")
    good = [orders.publish(f"order {n}".encode()) for n in range(2)]
    attempts.wait_for(lambda seen: sum(m.message_id == poison.message_id for m in seen) > 10)

    with pytest.raises(AssertionError, match="redelivered forever, a poison message without dead-lettering"):
        assert_poison_dead_lettered(poison, attempts=[m.message_id for m in attempts.messages], dead_lettered=[],
                                    others=good, processed=attempts.messages, max_attempts=3)


@pytest.mark.parametrize("bus", NOT_ACKING, indirect=True)
def test_dead_letter_queues_are_refused_where_the_broker_has_none(bus: Bus) -> None:
    with pytest.raises(
        UnsupportedFeature, match=rf"dead_letter is not supported by {bus.transport}; use one of: amqp, stomp, redis, jetstream"
    ):
        bus.queue("orders", dead_letter=True)


# -- consumer down while messages buffer --------------------------------------------------------------


@pytest.mark.parametrize("bus", ["amqp", "stomp", "redis", "jetstream", "mqtt"], indirect=True)
def test_messages_published_while_the_consumer_is_down_arrive_when_it_is_back(bus: Bus) -> None:
    orders = bus.queue("orders")
    capture = orders.capture()
    before = [orders.publish(f"before {n}".encode()) for n in range(3)]
    capture.wait_for_count(3)

    with consumer_down(capture.subscription):
        during = [orders.publish(f"during {n}".encode()) for n in range(10)]
        assert len(capture) == 3, "a stopped consumer still received messages"

    assert_nothing_lost(before + during, capture.wait_for_ids({m.message_id for m in during}))


@pytest.mark.parametrize("bus", ["amqp", "mqtt"], indirect=True)
def test_a_stopped_topic_subscriber_gets_what_it_missed(bus: Bus) -> None:
    prices = bus.topic("prices")
    subscriber = prices.capture()
    with consumer_down(subscriber.subscription):
        sent = [prices.publish(f"tick {n}".encode()) for n in range(5)]
    assert_nothing_lost(sent, subscriber.wait_for_count(5))


@pytest.mark.parametrize("bus", ["stomp", "redis", "nats", "jetstream"], indirect=True)
def test_consumer_down_on_a_topic_is_refused_where_subscribers_do_not_buffer(bus: Bus) -> None:
    subscriber = bus.topic("prices").capture()
    refused = pytest.raises(UnsupportedFeature, match=rf"topic_buffering is not supported by {bus.transport}.*use one of: amqp, mqtt")
    with refused, consumer_down(subscriber.subscription):
        pass


@pytest.mark.parametrize("bus", ["redis"], indirect=True)
def test_fire_and_forget_pub_sub_loss_while_down_is_caught(bus: Bus) -> None:
    prices = bus.topic("prices")
    subscriber = prices.capture()
    subscriber.stop()
    missed = prices.publish(b"tick while down")
    subscriber.start()
    delivered = prices.publish(b"tick after")
    subscriber.wait_for_ids({delivered.message_id})
    with pytest.raises(AssertionError, match=rf"2 sent message\(s\) to arrive; 1 lost\n  missing: {missed.message_id}"):
        assert_nothing_lost([missed, delivered], subscriber.messages)


@pytest.mark.parametrize("bus", ["nats"], indirect=True)
def test_consumer_down_is_refused_where_nothing_buffers(bus: Bus) -> None:
    subscription = bus.queue("orders").capture().subscription
    refused = pytest.raises(
        UnsupportedFeature, match=r"buffering is not supported by nats.*use one of: amqp, stomp, redis, jetstream, mqtt"
    )
    with refused, consumer_down(subscription):
        pass
    assert subscription.running


# -- publisher confirms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bus", ["amqp"], indirect=True)
def test_publisher_confirms_refuse_a_message_no_queue_takes(bus: Bus) -> None:
    """With confirms and `mandatory`, a publish returns only once a queue has the message: one that
    nothing routes fails loudly instead of vanishing."""
    assert "confirms" in bus.features
    with pytest.raises(pika.exceptions.UnroutableError):
        bus.at(f"no-such-queue-{uuid.uuid4().hex}").publish(b"into the void")


# -- a consumer handling deliveries from several threads stays exactly-once ---------------------------


@pytest.mark.parametrize("bus", ["amqp", "redis"], indirect=True)
def test_idempotent_consumer_is_exactly_once_across_competing_consumers(bus: Bus) -> None:
    payments = bus.queue("payments")
    deliveries, probe = Capture("deliveries"), IdempotencyProbe()
    shared = IdempotentConsumer(lambda delivery: probe.record(delivery.message.message_id))
    lock = threading.Lock()

    def handler(delivery: Delivery) -> None:
        with lock:
            deliveries.add(delivery.message)
        shared(delivery)

    payments.consume(handler)
    payments.consume(handler)
    publish_twice = duplicate(payments.publish)
    sent = [Message(f"charge {n}".encode()) for n in range(20)]
    for message in sent:
        publish_twice(message)
    deliveries.wait_for_count(40)
    probe.assert_exactly_once(sent)
