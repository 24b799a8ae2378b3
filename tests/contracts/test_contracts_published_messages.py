"""Beyond Pact: what a provider really published on a real broker, checked against the message pact.

The system RabbitMQ (127.0.0.1:5672, guest/guest) and Redis (127.0.0.1:6379) act as external
brokers; every test uses its own uniquely named exchange, queue or stream and deletes it after.
XML message contracts are checked the same way.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ipc.contracts import (
    ContractError,
    PublishedMessage,
    assert_message_matches_pact,
)
from tests.contracts.contract_pacts import write_events_pact, write_invoice_xml_pact

pika = pytest.importorskip("pika")
redis = pytest.importorskip("redis")


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def events_pact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_events_pact(tmp_path_factory.mktemp("pacts"))


@pytest.fixture
def rabbit_channel() -> Iterator[object]:
    if not reachable(5672):
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    connection = pika.BlockingConnection(
        pika.ConnectionParameters("127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest"))
    )
    try:
        yield connection.channel()
    finally:
        connection.close()


def publish_order_placed(channel: object, exchange: str, body: dict[str, object], routing_key: str) -> None:
    """The provider code under test: publish an "order placed" event on a topic exchange."""
    channel.basic_publish(  # type: ignore[attr-defined]
        exchange, routing_key, json.dumps(body).encode(), pika.BasicProperties(content_type="application/json")
    )


@pytest.mark.parametrize(
    ("body", "routing_key", "broken"),
    [
        ({"order_id": 7, "status": "placed"}, "orders.placed", None),
        ({"orderId": 7, "status": "placed"}, "orders.placed", "missing the following keys: order_id"),
        (
            {"order_id": 7, "status": "placed"},
            "orders.created",
            "MetadataMismatch routing_key: .* but was '\"orders.created\"'",
        ),
    ],
    ids=["honours-the-pact", "renamed-field", "wrong-routing-key"],
)
def test_message_published_on_rabbitmq(
    rabbit_channel: object, events_pact: Path, body: dict[str, object], routing_key: str, broken: str | None
) -> None:
    exchange = f"pytest-ipc-contracts-{uuid.uuid4().hex}"
    channel = rabbit_channel
    channel.exchange_declare(exchange, "topic", auto_delete=True)  # type: ignore[attr-defined]
    queue = channel.queue_declare("", exclusive=True).method.queue  # type: ignore[attr-defined]
    channel.queue_bind(queue, exchange, "orders.*")  # type: ignore[attr-defined]
    try:
        publish_order_placed(channel, exchange, body, routing_key)
        method, properties, payload = channel.basic_get(queue, auto_ack=True)  # type: ignore[attr-defined]
        assert method is not None, "the message never reached the queue"
        received = PublishedMessage(payload, properties.content_type, {"routing_key": method.routing_key})
        if broken is None:
            assert_message_matches_pact(events_pact, "an order placed event", received)
        else:
            with pytest.raises(ContractError, match=broken):
                assert_message_matches_pact(events_pact, "an order placed event", received)
    finally:
        channel.exchange_delete(exchange)  # type: ignore[attr-defined]


def test_message_published_on_a_redis_stream(events_pact: Path) -> None:
    if not reachable(6379):
        pytest.skip("no Redis on 127.0.0.1:6379")
    client = redis.Redis("127.0.0.1", 6379)
    stream = f"pytest-ipc-contracts-{uuid.uuid4().hex}"
    try:
        client.xadd(stream, {"routing_key": "orders.placed", "body": json.dumps({"order_id": 7, "status": "paid"})})
        ((_, entries),) = client.xread({stream: "0"}, count=1)
        fields = {key.decode(): value.decode() for key, value in entries[0][1].items()}
        assert_message_matches_pact(
            events_pact,
            "an order placed event",
            PublishedMessage(fields["body"].encode(), metadata={"routing_key": fields["routing_key"]}),
        )
        with pytest.raises(ContractError, match=r"\$.status: Expected 'cancelled' to match 'placed\|paid'"):
            assert_message_matches_pact(events_pact, "an order placed event", {"order_id": 7, "status": "cancelled"})
    finally:
        client.delete(stream)
        client.close()


def test_unknown_description_names_the_known_ones(events_pact: Path) -> None:
    with pytest.raises(
        ValueError, match="has no interaction 'an order shipped event'; it has: 'Mailer -> OrderEvents: an order placed event'"
    ):
        assert_message_matches_pact(events_pact, "an order shipped event", {})


def test_xml_message_contract(tmp_path: Path) -> None:
    pact_file = write_invoice_xml_pact(tmp_path)
    assert_message_matches_pact(pact_file, "an invoice issued event", '<invoice id="9"><total>99.5</total></invoice>')
    with pytest.raises(ContractError) as caught:
        assert_message_matches_pact(
            pact_file, "an invoice issued event", '<invoice id="x"><amount>99.5</amount></invoice>'
        )
    assert caught.value.mismatches == [
        "BodyMismatch $.invoice: Expected child <total/> but was missing",
        "BodyMismatch $.invoice['@id']: Expected 'x' to match an integer number",
    ]
