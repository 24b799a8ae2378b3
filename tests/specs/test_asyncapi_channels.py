"""What real broker channels carry, checked against AsyncAPI 2.6 and 3.0 documents: JSON, XML, Avro and
Protobuf payloads, published through the real client libraries on the session's MQTT, Redis and NATS
brokers, captured by the ordinary capture, and judged by `capture.assert_conforms(document)`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc.brokers import IsolatedBroker
from pytest_ipc.contracts.avro import write_record
from pytest_ipc.messaging import Bus, aio, channels_for
from pytest_ipc.messaging.conformance import ChannelConformanceError, assert_channel_conforms
from pytest_ipc.protobuf import compile_proto
from pytest_ipc.specs import SpecError, load_document
from pytest_ipc.specs.asyncapi import asyncapi_channels

DOCUMENTS = Path(__file__).parent / "documents"
MEASURED = "smartylighting/streetlights/1/0/event/sl-1/lighting/measured"
TURN = "smartylighting/streetlights/1/0/action/sl-1/turn"
DIM = "smartylighting/streetlights/1/0/action/sl-2/dim"
POWER = "smartylighting/streetlights/1/0/event/sl-1/power/measured"
STATUS = "smartylighting/streetlights/1/0/event/sl-42/status"
AT = "2026-12-03T17:00:00Z"
POWER_SCHEMA = {
    "type": "record",
    "name": "PowerMeasured",
    "namespace": "smartylighting",
    "fields": [
        {"name": "watts", "type": "double"},
        {"name": "sentAt", "type": "long"},
        {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["ECO", "FULL"]}},
    ],
}


@pytest.fixture(params=["2_6", "3_0"], ids=["asyncapi-2.6", "asyncapi-3.0"])
def streetlights(request: pytest.FixtureRequest) -> str:
    return str(DOCUMENTS / f"streetlights_{request.param}.yaml")


@pytest.fixture
def mqtt(mqtt_broker: IsolatedBroker) -> Iterator[Bus]:
    with channels_for(mqtt_broker) as bus:
        yield bus


@pytest.fixture
def redis(redis_broker: IsolatedBroker) -> Iterator[Bus]:
    with channels_for(redis_broker) as bus:
        yield bus


@pytest.fixture
def nats(nats_broker: IsolatedBroker) -> Iterator[Bus]:
    with channels_for(nats_broker) as bus:
        yield bus


def measured(lumens: object) -> bytes:
    return json.dumps({"lumens": lumens, "sentAt": AT}).encode()


def test_a_conforming_publisher_passes(mqtt: Bus, streetlights: str) -> None:
    channel = mqtt.topic(MEASURED)
    capture = channel.capture()
    for lumens in (0, 120, 9000):
        channel.publish(measured(lumens))
    capture.wait_for_count(3)
    assert capture.assert_conforms(streetlights) == ["lightMeasured"] * 3


def test_a_non_conforming_publisher_fails_naming_channel_message_and_path(mqtt: Bus, streetlights: str) -> None:
    channel = mqtt.topic(MEASURED)
    capture = channel.capture()
    channel.publish(measured(120))
    channel.publish(measured(-5))
    channel.publish(b'{"lumens": "bright"}')
    capture.wait_for_count(3)

    with pytest.raises(ChannelConformanceError) as failure:
        capture.assert_conforms(streetlights)

    text = str(failure.value)
    assert f"expected every message on {MEASURED} to conform to its message lightMeasured" in text
    assert "2 of 3 do not" in text
    assert f"message [1] on {MEASURED}" in text and "b'{\"lumens\": -5," in text
    schema = "#/components/messages/lightMeasured/payload"
    assert f"$.lumens: -5 is less than the minimum of 0 (schema {schema}/properties/lumens/minimum)" in text
    assert "message [2]" in text and "$.lumens: 'bright' is not of type 'integer'" in text
    assert "$: 'sentAt' is a required property" in text
    assert [offending.index for offending in failure.value.offending] == [1, 2]
    assert "message [0]" not in text


def test_a_message_conforms_to_one_of_the_channel_messages(mqtt: Bus, streetlights: str) -> None:
    channel = mqtt.topic(TURN)
    capture = channel.capture()
    for command in ("on", "off", "blink"):
        channel.publish(json.dumps({"command": command}).encode())
    capture.wait_for_count(3)

    with pytest.raises(ChannelConformanceError, match="to conform to one of its messages turnOn, turnOff") as failure:
        capture.assert_conforms(streetlights)

    [offending] = failure.value.offending
    assert offending.index == 2 and set(offending.violations) == {"turnOn", "turnOff"}
    assert "as turnOn: $.command: 'on' was expected" in str(failure.value)
    assert "as turnOff: $.command: 'off' was expected" in str(failure.value)
    with pytest.raises(ChannelConformanceError, match=r"to conform to its message turnOn .*\n.*message \[1\]"):
        assert_channel_conforms(streetlights, capture.messages[:2], TURN, message="turnOn")


def test_parameter_values_in_the_address_are_checked(mqtt: Bus, streetlights: str) -> None:
    address = MEASURED.replace("sl-1", "lamp-7")
    channel = mqtt.topic(address)
    capture = channel.capture()
    channel.publish(measured(10))
    capture.wait_for_count(1)

    rule = "does not match '^sl-[0-9]+$'" if "2_6" in streetlights else "is not one of ['sl-1', 'sl-2', 'sl-42']"
    with pytest.raises(ChannelConformanceError, match=r"0 of 1 do not, and the address breaks the channel's parameters") as failure:
        capture.assert_conforms(streetlights)
    assert f"address {address}: parameter streetlightId: 'lamp-7' {rule} (parameter #/components/parameters/streetlightId)" in str(
        failure.value
    )


def test_xml_payloads_map_onto_the_schema(redis: Bus, streetlights: str) -> None:
    channel = redis.topic(DIM)
    capture = channel.capture()
    channel.publish(f'<dim reason="night"><percentage>40</percentage><sentAt>{AT}</sentAt><zones>1</zones><zones>2</zones></dim>'.encode())
    channel.publish(f"<dim><percentage>70</percentage><sentAt>{AT}</sentAt><zones><zone>3</zone></zones></dim>".encode())
    capture.wait_for_count(2)
    assert capture.assert_conforms(streetlights) == ["dimLight", "dimLight"]

    channel.publish(f"<dim><percentage>140</percentage><sentAt>{AT}</sentAt><zones>x</zones></dim>".encode())
    channel.publish(b"<dim><percentage>10</dim>")
    capture.wait_for_count(4)
    with pytest.raises(ChannelConformanceError) as failure:
        capture.assert_conforms(streetlights)
    text = str(failure.value)
    assert "$.percentage: 140 is greater than the maximum of 100" in text
    assert "$.zones[0]: 'x' is not of type 'integer'" in text
    assert "message [3]" in text and "payload cannot be read as XML: not well-formed: mismatched tag: line 1" in text


def test_avro_payloads_are_read_with_fastavro(nats: Bus, streetlights: str) -> None:
    channel = nats.topic(POWER)
    capture = channel.capture()
    channel.publish(write_record({"watts": 61.5, "sentAt": 1764780000000, "mode": "ECO"}, POWER_SCHEMA))
    capture.wait_for_count(1)
    assert capture.assert_conforms(streetlights) == ["powerMeasured"]

    older = {**POWER_SCHEMA, "fields": POWER_SCHEMA["fields"][:2]}  # a publisher on a schema without `mode`
    channel.publish(write_record({"watts": 61.5, "sentAt": 1764780000000}, older))
    channel.publish(json.dumps({"watts": 61.5}).encode())
    capture.wait_for_count(3)
    with pytest.raises(ChannelConformanceError) as failure:
        capture.assert_conforms(streetlights)
    text = str(failure.value)
    assert "message [1]" in text and "payload cannot be read as Avro smartylighting.PowerMeasured: the 14 byte(s) end before one" in text
    assert "message [2]" in text and "message [0]" not in text


def test_protobuf_payloads_are_read_with_the_documents_proto(redis: Bus, streetlights: str, tmp_path: Path) -> None:
    report = status_report_class(streetlights, tmp_path)
    channel = redis.topic(STATUS)
    capture = channel.capture()
    good = report(streetlight_id="sl-42", on=True)
    good.faults.add(code="E7", detail="lamp flickers")
    channel.publish(good.SerializeToString())
    capture.wait_for_count(1)
    assert capture.assert_conforms(streetlights) == ["statusReport"]

    channel.publish(good.SerializeToString() + b"\x48\x05")  # field 9: written by a newer StatusReport
    channel.publish(b"\xff\xff\xff")
    capture.wait_for_count(3)
    with pytest.raises(ChannelConformanceError) as failure:
        capture.assert_conforms(streetlights)
    text = str(failure.value)
    assert "message [1]" in text and "$: unknown field(s) 9 (wire type 0) for smartylighting.v1.StatusReport" in text
    assert "message [2]" in text
    assert "payload cannot be read as Protobuf message smartylighting.v1.StatusReport: the bytes do not parse" in text


def status_report_class(streetlights: str, folder: Path) -> type[Any]:
    """The publisher's own StatusReport class, compiled from the `.proto` text the document carries."""
    channels = asyncapi_channels(streetlights)
    [message] = channels.get(STATUS)[0].messages
    (folder / "status.proto").write_text(channels.document.at(message.payload_pointer or ""))
    return compile_proto(folder / "status.proto").message_class("StatusReport")


def test_protobuf_types_from_the_users_schema(redis: Bus, tmp_path: Path) -> None:
    proto = tmp_path / "lights.proto"
    proto.write_text('syntax = "proto3";\npackage lights.v1;\nmessage Dim { int32 percentage = 1; }\nmessage Other { string x = 1; }\n')
    schema = compile_proto(proto)
    document = load_document(
        {
            "asyncapi": "3.0.0",
            "info": {"title": "Lights", "version": "1"},
            "channels": {"dim": {"address": "lights/dim", "messages": {"dim": {
                "contentType": "application/x-protobuf",
                "payload": {"schemaFormat": "application/vnd.google.protobuf;version=3", "schema": "lights.v1.Dim"},
            }}}},
        }
    )
    channel = redis.topic("lights/dim")
    capture = channel.capture()
    channel.publish(schema.message_class("Dim")(percentage=30).SerializeToString())
    channel.publish(schema.message_class("Other")(x="not a dim").SerializeToString())
    capture.wait_for_count(2)

    with pytest.raises(ChannelConformanceError, match=r"message \[1\].*\n.*unknown field\(s\) 1 \(wire type 2\) for lights.v1.Dim"):
        capture.assert_conforms(document, proto=schema)
    with pytest.raises(SpecError, match=r"has a Protobuf payload but no .proto source in the document; pass the compiled schema"):
        capture.assert_conforms(document)
    assert assert_channel_conforms(document, capture.messages[:1], "dim", proto=schema, proto_types={"dim": "Dim"}) == ["dim"]


def test_nothing_captured_is_no_pass(mqtt: Bus, streetlights: str) -> None:
    capture = mqtt.topic(MEASURED).capture()
    with pytest.raises(AssertionError, match=f"no message on {MEASURED} to check against channel .* nothing was checked"):
        capture.assert_conforms(streetlights)


def test_a_channel_the_document_does_not_declare_is_a_usage_error(mqtt: Bus, streetlights: str) -> None:
    channel = mqtt.topic("smartylighting/streetlights/1/0/event/sl-1/heat")
    capture = channel.capture()
    channel.publish(b"{}")
    capture.wait_for_count(1)
    with pytest.raises(SpecError, match=r"declares no channel 'smartylighting/streetlights/1/0/event/sl-1/heat' .*; its channels: "):
        capture.assert_conforms(streetlights)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_captures_check_the_same_way(redis_broker: IsolatedBroker, anyio_backend: str) -> None:
    async with aio.channels_for(redis_broker) as bus:
        channel = await bus.topic("lights.measured")
        capture = await channel.capture()
        await channel.publish(measured(-1))
        await capture.wait_for_count(1)
    document = {
        "asyncapi": "2.6.0",
        "info": {"title": "Lights", "version": "1"},
        "channels": {
            "lights.measured": {"publish": {"message": {"payload": {"type": "object", "properties": {"lumens": {"minimum": 0}}}}}}
        },
    }
    with pytest.raises(ChannelConformanceError, match=r"\$.lumens: -1 is less than the minimum of 0"):
        capture.assert_conforms(document)


def test_both_versions_declare_the_same_channels() -> None:
    old, new = (asyncapi_channels(DOCUMENTS / f"streetlights_{version}.yaml") for version in ("2_6", "3_0"))
    assert sorted(channel.address or "" for channel in old.channels.values()) == sorted(
        channel.address or "" for channel in new.channels.values()
    )
    assert {message.id for channel in old.channels.values() for message in channel.messages} == {
        message.id for channel in new.channels.values() for message in channel.messages
    }
