"""A service under test publishes with its own client, not ours: a capture sees what it sent, whole."""

from __future__ import annotations

import json

import redis

from pytest_ipc.brokers.endpoint import BrokerHandle
from pytest_ipc.messaging import channels_for


def test_redis_captures_plain_payloads_of_another_client(redis_broker: BrokerHandle) -> None:
    with channels_for(redis_broker) as bus, redis.Redis.from_url(redis_broker.url) as service:
        lights, jobs = bus.topic("lights"), bus.queue("jobs")
        lights_capture, jobs_capture = lights.capture(), jobs.capture()
        service.publish(lights.address, b"\xff\x00 not utf-8, not json")
        service.publish(lights.address, b'{"lumens": 3}')
        service.xadd(jobs.address, {"data": b"\x01\x02"})
        service.xadd(jobs.address, {"id": "7", "kind": "resize"})
        assert [message.body for message in lights_capture.wait_for_count(2)] == [b"\xff\x00 not utf-8, not json", b'{"lumens": 3}']
        single, several = jobs_capture.wait_for_count(2)
        assert single.body == b"\x01\x02"
        assert json.loads(several.body) == {"id": "7", "kind": "resize"}
