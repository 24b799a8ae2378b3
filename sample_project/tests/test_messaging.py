"""The shop's messaging on a real Redis: pub/sub events, a work queue, request/reply, idempotency.

Each test gets its own key prefix on the session's broker (`redis_broker.name(...)`). Without a
broker backend (no URL, no Docker, no redis-server binary) these tests skip with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from shop.events import OrderEvent, OrderEventPublisher, OrderEventSubscriber
from shop.idempotency import IdempotentHandler
from shop.inventory import (
    InventoryClient,
    InventoryResponder,
    InventoryUnavailable,
    ReservationTimeout,
)
from shop.work_queue import Job, Worker, WorkQueue

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.messaging import assert_exactly_once_effect, duplicate, reorder
from pytest_ipc.report import Outcome, ReportHandle

from .eventually import Collected, wait_until

Connect = Callable[..., redis.Redis]


@pytest.fixture
def connect(redis_broker: IsolatedBroker) -> Iterator[Connect]:
    """New Redis connections to this test's broker (or to `via`, a proxied view), closed after the test."""
    clients: list[redis.Redis] = []

    def new_client(via: IsolatedBroker | None = None) -> redis.Redis:
        client = redis.Redis.from_url((via or redis_broker).url, socket_connect_timeout=0.5)
        clients.append(client)
        return client

    yield new_client
    for client in clients:
        client.close()


def test_order_events_reach_every_subscriber(redis_broker: IsolatedBroker, connect: Connect) -> None:
    channel = redis_broker.name("order-events")
    billing, email = Collected(), Collected()
    with OrderEventSubscriber(connect(), channel, billing), OrderEventSubscriber(connect(), channel, email):
        publisher = OrderEventPublisher(connect(), channel)
        events = [OrderEvent("order.placed", 1), OrderEvent("order.shipped", 1)]
        assert [publisher.publish(event) for event in events] == [2, 2]
        wait_until(lambda: len(billing.items) == len(email.items) == 2, "both subscribers to get both events")
    assert billing.items == email.items == events


def test_subscriber_resubscribes_after_a_broker_restart(
    redis_broker: IsolatedBroker, redis_server: BrokerServer, connect: Connect, ipc_report: ReportHandle
) -> None:
    channel = redis_broker.name("order-events")
    received = Collected()
    with OrderEventSubscriber(connect(), channel, received) as subscriber:
        publisher = OrderEventPublisher(connect(), channel)
        with ipc_report.measure("order-events (redis)", "broker restart") as attempt:
            redis_server.restart()
            wait_until(subscriber.subscribed.is_set, "the subscriber to subscribe again")
            after = OrderEvent("order.placed", 2)
            wait_until(lambda: publisher.publish(after) == 1, "the publisher to reach the subscriber")
            wait_until(lambda: after in received.items, "the event published after the restart")
            attempt.outcome = Outcome.RECOVERED
    assert subscriber.reconnects >= 1


def test_work_queue_gives_each_job_to_exactly_one_worker(redis_broker: IsolatedBroker, connect: Connect) -> None:
    queue_name = redis_broker.name("fulfilment")
    handled = Collected()
    jobs = [Job(order_id) for order_id in range(20)]
    producer = WorkQueue(connect(), queue_name)
    with Worker(WorkQueue(connect(), queue_name), handled, "w1"), Worker(WorkQueue(connect(), queue_name), handled, "w2"):
        for job in jobs:
            producer.enqueue(job)
        wait_until(lambda: len(handled.items) >= len(jobs), "all jobs handled")
    assert_exactly_once_effect([job.job_id for job in handled.items], [job.job_id for job in jobs])  # type: ignore[attr-defined]
    assert producer.depth() == 0


def test_queued_jobs_survive_a_broker_restart(
    redis_broker: IsolatedBroker, redis_server: BrokerServer, connect: Connect, ipc_report: ReportHandle
) -> None:
    queue_name = redis_broker.name("fulfilment")
    producer = WorkQueue(connect(), queue_name)
    jobs = [Job(order_id) for order_id in range(5)]
    for job in jobs:
        producer.enqueue(job)
    handled = Collected()
    with ipc_report.measure("work-queue (redis)", "broker restart") as attempt:
        redis_server.restart()  # before any worker ran: the jobs only exist in the broker's append-only file
        with Worker(WorkQueue(connect(), queue_name), handled):
            wait_until(lambda: len(handled.items) == len(jobs), "the jobs queued before the restart")
        attempt.outcome = Outcome.RECOVERED
    assert sorted(job.order_id for job in handled.items) == list(range(5))  # type: ignore[attr-defined]


def test_duplicate_deliveries_have_one_effect(redis_broker: IsolatedBroker, connect: Connect, ipc_report: ReportHandle) -> None:
    queue_name = redis_broker.name("fulfilment")
    producer = WorkQueue(connect(), queue_name)
    jobs = [Job(order_id) for order_id in range(10)]
    send_at_least_once = duplicate(producer.enqueue, probability=0.5, seed=4)  # a producer retrying after lost acks
    shipped = Collected()
    consumer: IdempotentHandler[Job] = IdempotentHandler(
        connect(), redis_broker.name("shipped"), lambda job: shipped(job.job_id), message_id=lambda job: job.job_id
    )
    with Worker(WorkQueue(connect(), queue_name), consumer), ipc_report.measure("work-queue (redis)", "duplicates") as attempt:
        for job in jobs:
            send_at_least_once(job)
        wait_until(lambda: len(shipped.items) + consumer.duplicates == len(jobs) + send_at_least_once.duplicated,
                   "every delivery, duplicates included")
        attempt.outcome = Outcome.RECOVERED
    assert send_at_least_once.duplicated > 0
    assert consumer.duplicates == send_at_least_once.duplicated
    assert_exactly_once_effect(shipped.items, [job.job_id for job in jobs])  # type: ignore[arg-type]


def test_reservations_correlate_under_duplicated_and_reordered_replies(
    redis_broker: IsolatedBroker, connect: Connect, ipc_report: ReportHandle
) -> None:
    requests_queue = redis_broker.name("inventory")
    skus = [f"SKU-{number}" for number in range(12)]
    responder = InventoryResponder(connect(), requests_queue, dict.fromkeys(skus, 10))
    reordered = reorder(responder.send_reply, window=3, seed=2, max_delay=0.05)
    responder.deliver = duplicated = duplicate(reordered, 0.5, seed=2)
    with responder, InventoryClient(connect(), requests_queue, timeout=2.0) as inventory:
        with ThreadPoolExecutor(len(skus)) as pool, ipc_report.measure("inventory (redis)", "duplicated, reordered replies") as attempt:
            reservations = list(pool.map(lambda pair: inventory.reserve(*pair), [(sku, n % 5 + 1) for n, sku in enumerate(skus)]))
            attempt.outcome = Outcome.RECOVERED
        reordered.close()  # send what the reordering window still holds, while the responder is up
        wait_until(lambda: inventory.discarded == duplicated.duplicated, "the duplicate replies to be dropped")
    assert [(r.sku, r.quantity, r.reserved, r.remaining) for r in reservations] == [
        (sku, n % 5 + 1, True, 10 - (n % 5 + 1)) for n, sku in enumerate(skus)
    ]
    assert len({r.correlation_id for r in reservations}) == len(skus)


def test_reservation_without_a_responder_times_out_within_budget(
    redis_broker: IsolatedBroker, connect: Connect, ipc_report: ReportHandle
) -> None:
    inventory = InventoryClient(connect(), redis_broker.name("inventory"), timeout=0.3)
    with inventory, pytest.raises(ReservationTimeout), ipc_report.measure("inventory (redis)", "responder down") as attempt:
        attempt.outcome = Outcome.TIMED_OUT
        inventory.reserve("SKU-1", 1)
    assert 0.3 <= attempt.latency < 0.3 + 0.5


def test_late_reply_is_never_given_to_the_next_caller(redis_broker: IsolatedBroker, connect: Connect) -> None:
    requests_queue = redis_broker.name("inventory")
    with InventoryClient(connect(), requests_queue, timeout=0.2) as inventory:
        with pytest.raises(ReservationTimeout):
            inventory.reserve("SKU-1", 1)  # nobody serves yet: the request waits in the queue
        with InventoryResponder(connect(), requests_queue, {"SKU-1": 5, "SKU-2": 5}):
            second = inventory.reserve("SKU-2", 2)  # the late reply to the first call arrives too
            wait_until(lambda: inventory.discarded == 1, "the late reply to be dropped")
    assert (second.sku, second.quantity, second.remaining) == ("SKU-2", 2, 3)


def test_reservations_through_a_slow_network_to_the_broker(
    redis_broker: IsolatedBroker, connect: Connect, ipc_report: ReportHandle
) -> None:
    requests_queue = redis_broker.name("inventory")
    slow = redis_broker.proxied()
    assert slow.proxy is not None
    with InventoryResponder(connect(), requests_queue, {"SKU-1": 5}), \
            InventoryClient(connect(via=slow), requests_queue, timeout=2.0) as inventory:
        inventory.reserve("SKU-1", 1)  # connected before the network slows down
        with slow.proxy.latency(0.1), ipc_report.measure("inventory (redis)", "latency-100ms") as attempt:
            reservation = inventory.reserve("SKU-1", 2)
            attempt.outcome = Outcome.RECOVERED
    assert (reservation.reserved, reservation.remaining) == (True, 2)
    assert attempt.latency >= 0.1


def test_reservation_during_a_broker_outage_fails_fast_then_recovers(
    redis_broker: IsolatedBroker, connect: Connect, ipc_report: ReportHandle
) -> None:
    requests_queue = redis_broker.name("inventory")
    cut = redis_broker.proxied()
    assert cut.proxy is not None
    with InventoryResponder(connect(), requests_queue, {"SKU-1": 5}), \
            InventoryClient(connect(via=cut), requests_queue, timeout=1.0) as inventory:
        with cut.proxy.down(), pytest.raises(InventoryUnavailable), \
                ipc_report.measure("inventory (redis)", "outage") as attempt:
            attempt.outcome = Outcome.FAILED_FAST
            inventory.reserve("SKU-1", 1)
        assert attempt.latency < 1.0
        with ipc_report.measure("inventory (redis)", "outage-healed") as attempt:
            wait_until(lambda: inventory.reconnects >= 1, "the reply listener to notice the outage")
            assert inventory.reserve("SKU-1", 1).reserved
            attempt.outcome = Outcome.RECOVERED
