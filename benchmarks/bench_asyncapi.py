"""Cost of checking captured messages against an AsyncAPI document, per payload format, in one run.

`python benchmarks/bench_asyncapi.py [--messages 2000]`

For each channel of the streetlights 3.0 document (JSON, XML, Avro, Protobuf payloads),
`assert_channel_conforms` checks `--messages` example messages (document loading, channel lookup and
checker set-up included). The baseline, measured in the same run, is the least a check can do: the
format's own reader over the same bytes (json.loads + a jsonschema validator built once,
ElementTree.fromstring + the same validator, fastavro's schemaless_reader, ParseFromString). pytest-ipc
does more than that for Avro (the record must write back as the same bytes) and Protobuf (no unknown
fields, nested ones included), so the ratio is shown for every format but judged for JSON only.
Target: at most 0.5 ms per message in every format, and at most 3x the baseline for JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import fastavro
import jsonschema

from pytest_ipc.messaging import Message, assert_channel_conforms, example_message
from pytest_ipc.specs import load_document
from pytest_ipc.specs.asyncapi import asyncapi_channels
from pytest_ipc.specs.payloads import PayloadChecker

DOCUMENT = Path(__file__).parents[1] / "tests" / "specs" / "documents" / "streetlights_3_0.yaml"
CHANNELS = ("lightingMeasured", "lightsDim", "powerMeasured", "lightStatus")
TARGET_RATIO = 3.0
TARGET_PER_MESSAGE = 0.0005


def timed(action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def baseline(channel: str, bodies: list[bytes]) -> Callable[[], object]:
    """The format's own reader (and a validator built once) over the bodies: the least a check costs."""
    channels = asyncapi_channels(load_document(DOCUMENT))
    [message] = channels.get(channel)[0].messages
    checker = PayloadChecker(channels.document, message)
    schema = channels.document.at(message.payload_pointer or "")
    if checker.proto_class is not None:
        parse = checker.proto_class.FromString
        return lambda: [parse(body) for body in bodies]
    if checker.avro_schema is not None:
        parsed = fastavro.parse_schema(checker.avro_schema)
        return lambda: [fastavro.schemaless_reader(io.BytesIO(body), parsed, None) for body in bodies]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    if message.content_type.endswith("xml"):
        return lambda: [validator.is_valid({child.tag: child.text for child in ElementTree.fromstring(body)}) for body in bodies]
    return lambda: [validator.is_valid(json.loads(body)) for body in bodies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    count = parser.parse_args().messages
    print(f"{count} messages per channel; best of 3 runs")
    print(f"{'channel':<18} {'baseline ms/msg':>16} {'pytest-ipc ms/msg':>18} {'ratio':>7}")
    verdicts = []
    for channel in CHANNELS:
        examples = [example_message(DOCUMENT, channel, seed=seed) for seed in range(50)]
        messages = [Message(examples[index % len(examples)].body) for index in range(count)]
        bodies = [message.body for message in messages]
        floor = timed(baseline(channel, bodies)) / count
        ours = timed(lambda: assert_channel_conforms(DOCUMENT, messages, channel)) / count  # noqa: B023 (called at once)
        ratio = ours / floor
        verdicts.append(ours <= TARGET_PER_MESSAGE and (channel != "lightingMeasured" or ratio <= TARGET_RATIO))
        print(f"{channel:<18} {floor * 1000:>16.4f} {ours * 1000:>18.4f} {ratio:>6.1f}x")
    verdict = "PASS" if all(verdicts) else "FAIL"
    print(f"{verdict}: target <= {TARGET_PER_MESSAGE * 1000} ms per message in every format, <= {TARGET_RATIO}x the baseline for JSON")


if __name__ == "__main__":
    main()
