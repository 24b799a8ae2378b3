"""Example messages made from AsyncAPI documents conform to their messages, in every payload format, and
feed a consumer on a real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_ipc.brokers import IsolatedBroker
from pytest_ipc.messaging import Delivery, channels_for
from pytest_ipc.messaging.conformance import assert_channel_conforms
from pytest_ipc.messaging.examples import example_message
from pytest_ipc.protobuf import compile_proto
from pytest_ipc.specs import SpecError
from pytest_ipc.specs.asyncapi import asyncapi_channels

DOCUMENTS = Path(__file__).parent / "documents"
SEEDS = range(4)


@pytest.mark.parametrize("version", ["2_6", "3_0"])
def test_examples_of_every_channel_conform_to_their_message(version: str) -> None:
    document = asyncapi_channels(DOCUMENTS / f"streetlights_{version}.yaml").document
    for channel in asyncapi_channels(document).channels.values():
        examples = [example_message(document, channel.id, seed=seed) for seed in SEEDS]
        declared = assert_channel_conforms(document, examples, channel.id)
        assert set(declared) == {message.id for message in channel.messages}, "the seeds go round the channel's messages"
        assert example_message(document, channel.id, seed=1).body == examples[1].body, "one seed, one example"
        assert len({example.body for example in examples}) > 1, f"{channel.id}: every seed gave the same example"


def test_the_messages_own_examples_come_first() -> None:
    document = {
        "asyncapi": "2.6.0",
        "info": {"title": "Lights", "version": "1"},
        "channels": {
            "lights": {
                "subscribe": {
                    "message": {
                        "payload": {"type": "object", "required": ["lumens"], "properties": {"lumens": {"minimum": 0}}},
                        "headers": {"required": ["attempt"], "properties": {"attempt": {"type": "integer", "minimum": 1}}},
                        "examples": [{"payload": {"lumens": 42}}, {"payload": {"lumens": -1}}],
                    }
                }
            }
        },
    }
    assert json.loads(example_message(document, "lights").body) == {"lumens": 42}
    broken_example = example_message(document, "lights", seed=1)  # its example breaks the schema: generated instead
    assert json.loads(broken_example.body)["lumens"] >= 0
    generated = example_message(document, "lights", use_examples=False)
    assert json.loads(generated.body) != {"lumens": 42} and int(generated.headers["attempt"]) >= 1


def test_protobuf_examples_cover_nested_repeated_map_enum_and_well_known_fields(tmp_path: Path) -> None:
    (tmp_path / "lights.proto").write_text(
        """
        syntax = "proto3";
        package lights.v1;
        import "google/protobuf/timestamp.proto";
        enum Mode { MODE_UNSPECIFIED = 0; ECO = 1; FULL = 2; }
        message Zone { string name = 1; repeated Zone children = 2; }
        message Report {
          Mode mode = 1; repeated Zone zones = 2; map<string, int64> counters = 3; bytes firmware = 4;
          google.protobuf.Timestamp at = 5; uint32 lamps = 6; double watts = 7;
        }
        """
    )
    schema = compile_proto(tmp_path / "lights.proto")
    document = {
        "asyncapi": "3.0.0",
        "info": {"title": "Lights", "version": "1"},
        "channels": {"reports": {"address": "lights.reports", "messages": {"report": {
            "payload": {"schemaFormat": "application/vnd.google.protobuf;version=3", "schema": "lights.v1.Report"},
        }}}},
    }
    examples = [example_message(document, "lights.reports", proto=schema, seed=seed) for seed in SEEDS]
    assert assert_channel_conforms(document, examples, "reports", proto=schema) == ["report"] * len(SEEDS)
    decoded = schema.message_class("Report").FromString(examples[0].body)
    assert decoded.zones and decoded.counters and decoded.firmware and decoded.at.seconds


def test_a_schema_no_example_can_satisfy_is_an_error() -> None:
    document = {
        "asyncapi": "3.0.0",
        "info": {"title": "Lights", "version": "1"},
        "channels": {"lights": {"messages": {"impossible": {"payload": {"type": "integer", "minimum": 5, "maximum": 1}}}}},
    }
    with pytest.raises(SpecError, match=r"cannot make a value for the schema at #/channels/lights/messages/impossible/payload"):
        example_message(document, "lights")


def test_a_consumer_handles_the_example_messages_from_a_real_broker(mqtt_broker: IsolatedBroker) -> None:
    document = DOCUMENTS / "streetlights_3_0.yaml"
    address = "smartylighting/streetlights/1/0/event/sl-2/lighting/measured"
    handled: list[int] = []

    def dashboard(delivery: Delivery) -> None:  # the consumer under test: keeps the latest readings
        handled.append(json.loads(delivery.message.body)["lumens"])

    with channels_for(mqtt_broker) as bus:
        channel = bus.topic(address)
        capture = channel.capture()
        channel.consume(dashboard)
        sent = [channel.publish(example_message(document, address, seed=seed)) for seed in SEEDS]
        capture.wait_for_count(len(sent))
        capture.wait_for(lambda _: len(handled) == len(sent))
    assert capture.assert_conforms(document) == ["lightMeasured"] * len(sent)
    assert handled == [json.loads(message.body)["lumens"] for message in sent]
