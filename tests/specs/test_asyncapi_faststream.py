"""AsyncAPI documents pytest-ipc did not write: FastStream generates 2.6 and 3.0 documents from an app,
its NATS publisher sends on the session's NATS broker, and the channel is checked against them.

None of the AsyncAPI packages looked at on PyPI ships documents as files (they generate documents or
model the specification), so the third-party documents here are the ones FastStream generates.
FastStream's 2.6 documents name channels by title and put the subject in `bindings.nats.subject`;
the channel is found through that binding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_ipc.brokers import IsolatedBroker
from pytest_ipc.messaging import CaptureSubscription, channels_for
from pytest_ipc.messaging.conformance import ChannelConformanceError
from pytest_ipc.specs import load_document


@pytest.fixture
def measured(nats_broker: IsolatedBroker) -> Iterator[tuple[CaptureSubscription, Any, str]]:
    """A capture of the subject, and the FastStream app (with its publisher and model) that publishes on
    it. FastStream is imported here, not at collection: it takes a second or more to import."""
    faststream_nats = pytest.importorskip("faststream.nats", reason="FastStream (test extra) generates the documents")
    from pydantic import BaseModel, Field

    class LightMeasured(BaseModel):
        lumens: int = Field(ge=0)
        sent_at: str

    subject = nats_broker.name("lights.measured")
    app = faststream_nats.NatsBroker(nats_broker.url)
    publisher = app.publisher(subject, schema=LightMeasured, title="lightMeasured")
    with channels_for(nats_broker) as bus:
        yield bus.topic("lights.measured").capture(), (app, publisher, LightMeasured), subject


@pytest.mark.parametrize("version", ["2.6.0", "3.0.0"])
def test_a_faststream_publisher_is_checked_against_the_document_faststream_generated(
    measured: tuple[CaptureSubscription, Any, str], version: str
) -> None:
    from faststream.specification import AsyncAPI

    capture, (app, publisher, LightMeasured), subject = measured
    generated = AsyncAPI(app, schema_version=version).to_specification().to_jsonable()
    document = load_document(json.loads(json.dumps(generated)))
    assert document.dialect == f"asyncapi-{version[:3]}"

    async def publish() -> None:
        async with app:
            await publisher.publish(LightMeasured(lumens=310, sent_at="2026-12-03T17:00:00Z"))
            await app.publish({"lumens": -3, "sent_at": "2026-12-03T17:00:01Z"}, subject)  # bypasses the model

    asyncio.run(publish())
    capture.wait_for_count(2)

    with pytest.raises(ChannelConformanceError) as failure:
        capture.assert_conforms(document)
    text = str(failure.value)
    assert f"expected every message on {subject} to conform to its message" in text and "1 of 2 do not" in text
    assert "message [1]" in text and "$.lumens: -3 is less than the minimum of 0" in text
    assert "/properties/lumens/minimum)" in text and "message [0]" not in text
