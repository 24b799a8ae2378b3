"""NATS as a fixture: a real server with JetStream, a subject prefix per test, streams removed."""

from __future__ import annotations

import asyncio
import dataclasses

import nats
import pytest
from nats.aio.msg import Msg

from pytest_ipc.brokers.handles import IsolatedBroker
from pytest_ipc.brokers.nats import NatsRequester
from pytest_ipc.brokers.server import BrokerServer


async def _request_reply(url: str, subject: str) -> bytes:
    client = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:

        async def echo(message: Msg) -> None:
            await message.respond(b"pong:" + message.data)

        await client.subscribe(subject, cb=echo)
        reply = await client.request(subject, b"ping", timeout=5)
        return reply.data
    finally:
        await client.close()


def test_request_reply_with_a_real_client(nats_broker: IsolatedBroker) -> None:
    subject = nats_broker.name("echo")
    assert subject == f"{nats_broker.namespace}.echo"
    assert asyncio.run(_request_reply(nats_broker.url, subject)) == b"pong:ping"


def test_credentials_are_required(nats_server: BrokerServer) -> None:
    endpoint = nats_server.endpoint
    if endpoint.password is None:
        pytest.skip("this NATS server has no credentials to check")
    with pytest.raises(ConnectionError, match="Authorization"):
        NatsRequester(dataclasses.replace(endpoint, username=None, password=None))


async def _streams(url: str) -> list[str]:
    client = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        return [stream.config.name or "" for stream in await client.jetstream().streams_info()]
    finally:
        await client.close()


async def _add_stream(url: str, name: str, subject: str, message: bytes) -> None:
    client = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        jetstream = client.jetstream()
        await jetstream.add_stream(name=name, subjects=[subject])
        await jetstream.publish(subject, message)
    finally:
        await client.close()


async def _last_message(url: str, stream: str) -> bytes:
    client = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        info = await client.jetstream().stream_info(stream)
        message = await client.jetstream().get_msg(stream, info.state.last_seq)
        return message.data or b""
    finally:
        await client.close()


def test_streams_of_a_test_are_deleted_after_it(nats_server: BrokerServer) -> None:
    first, second = nats_server.isolate().open(), nats_server.isolate().open()
    url = first.url
    asyncio.run(_add_stream(url, "ORDERS_" + first.namespace, first.name("orders.*"), b"a"))
    asyncio.run(_add_stream(url, "BY_SUBJECT_ONLY", first.name("audit"), b"b"))  # caught by its subject
    asyncio.run(_add_stream(url, "ORDERS_" + second.namespace, second.name("orders.*"), b"c"))
    first.close()
    remaining = asyncio.run(_streams(url))
    assert "ORDERS_" + first.namespace not in remaining and "BY_SUBJECT_ONLY" not in remaining
    assert "ORDERS_" + second.namespace in remaining
    second.close()
    assert "ORDERS_" + second.namespace not in asyncio.run(_streams(url))


def test_jetstream_data_survives_a_graceful_restart(nats_server: BrokerServer, nats_broker: IsolatedBroker) -> None:
    if nats_server.backend == "external":
        pytest.skip("an external broker is not ours to restart")
    stream = "KEEP_" + nats_broker.namespace
    asyncio.run(_add_stream(nats_broker.url, stream, nats_broker.name("keep"), b"persisted"))
    with nats_server.stopped(), pytest.raises(OSError):
        NatsRequester(nats_broker.endpoint)
    assert asyncio.run(_last_message(nats_broker.url, stream)) == b"persisted"
