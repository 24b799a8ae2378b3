"""The fluent Proxy and Toxic handles against the real embedded server, measured on real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import suppress

import httpx
import pytest

from pytest_ipc._errors import IpcError, IpcUsageError
from pytest_ipc.client import (
    InvalidArgument,
    InvalidRequest,
    Proxy,
    ProxyCounters,
    Toxic,
    ToxicExists,
    ToxicNotFound,
    ToxiproxyClient,
)
from pytest_ipc.client.toxics import from_wire, to_wire
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

RoundTrip = Callable[..., bytes]


@pytest.fixture
def proxy(client: ToxiproxyClient, echo_upstream: str) -> Proxy:
    return client.create_proxy("echo", upstream=echo_upstream)


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("add", "python", "wire"),
    [
        (lambda p: p.latency(0.12, 0.015), {"latency": 0.12, "jitter": 0.015}, {"latency": 120, "jitter": 15}),
        (lambda p: p.bandwidth(64_000), {"rate": 64_000}, {"rate": 64}),
        (lambda p: p.timeout(0.25), {"timeout": 0.25}, {"timeout": 250}),
        (lambda p: p.reset_peer(), {"timeout": 0.0}, {"timeout": 0}),
        (lambda p: p.slow_close(0.3), {"delay": 0.3}, {"delay": 300}),
        (
            lambda p: p.slicer(100, 10, 0.000005),
            {"average_size": 100, "size_variation": 10, "delay": 0.000005},
            {"average_size": 100, "size_variation": 10, "delay": 5},
        ),
        (lambda p: p.limit_data(2048), {"size": 2048}, {"bytes": 2048}),
        (lambda p: p.noop(), {}, {}),
    ],
)
def test_each_toxic_method_speaks_seconds_and_bytes_and_sends_toxiproxys_units(
    proxy: Proxy, embedded_server: EmbeddedToxiproxy, add: Callable[[Proxy], Toxic], python: dict[str, float],
    wire: dict[str, int],
) -> None:
    toxic = add(proxy)

    stored = proxy.get_toxic(toxic.name)
    for seen in (toxic, stored):
        assert (seen.stream, seen.toxicity, seen.attributes) == ("downstream", 1.0, python)
    on_the_wire = httpx.get(f"{embedded_server.url}/proxies/echo/toxics/{toxic.name}").json()
    assert on_the_wire["attributes"] == wire


def test_a_toxic_another_client_added_reads_in_python_units_and_a_lower_case_stream(
    proxy: Proxy, embedded_server: EmbeddedToxiproxy
) -> None:
    body = {"type": "limit_data", "stream": "DOWNSTREAM", "attributes": {"bytes": 4096}}
    assert httpx.post(f"{embedded_server.url}/proxies/echo/toxics", json=body).json()["stream"] == "DOWNSTREAM"

    toxic = proxy.get_toxic("limit_data_DOWNSTREAM")

    assert (toxic.stream, toxic.attributes) == ("downstream", {"size": 4096})
    assert toxic.update(size=8192).attributes == {"size": 8192}


def test_stream_toxicity_and_name_are_passed(proxy: Proxy) -> None:
    toxic = proxy.latency(0.05, stream="upstream", toxicity=0.25, name="slow-requests")

    assert (toxic.name, toxic.stream, toxic.toxicity) == ("slow-requests", "upstream", 0.25)
    assert list(proxy.toxics()) == ["slow-requests"]


def test_latency_toxic_delays_while_in_the_block_only(proxy: Proxy, round_trip: RoundTrip) -> None:
    with proxy.latency(0.6) as toxic:
        assert list(proxy.toxics()) == [toxic.name]
        slowed = timed(lambda: round_trip(proxy.address))

    assert proxy.toxics() == {}
    normal = timed(lambda: round_trip(proxy.address))
    assert slowed >= 0.6
    assert normal < 0.5


def test_toxic_is_removed_when_the_block_raises(proxy: Proxy) -> None:
    with pytest.raises(RuntimeError, match="boom"), proxy.timeout(0):
        raise RuntimeError("boom")

    assert proxy.toxics() == {}


def test_leaving_a_block_whose_toxic_is_already_gone_is_quiet(proxy: Proxy) -> None:
    with proxy.latency(0.01) as toxic:
        toxic.remove()
    assert proxy.toxics() == {}


def test_update_changes_attributes_and_toxicity_in_place(proxy: Proxy, round_trip: RoundTrip) -> None:
    toxic = proxy.latency(0.02, jitter=0.005)

    updated = toxic.update(latency=0.5, toxicity=0.5)

    assert updated is toxic
    assert (toxic.attributes, toxic.toxicity) == ({"latency": 0.5, "jitter": 0.005}, 0.5)
    stored = proxy.get_toxic("latency_downstream")
    assert (stored.attributes, stored.toxicity) == ({"latency": 0.5, "jitter": 0.005}, 0.5)

    toxic.update(toxicity=1.0)
    assert timed(lambda: round_trip(proxy.address)) >= 0.5 - 0.005  # 500 ms, less at most the 5 ms jitter


def test_remove_toxic_and_remove_all_toxics(proxy: Proxy) -> None:
    proxy.latency(0.01)
    proxy.bandwidth(100_000, stream="upstream")
    proxy.slow_close(0.01)

    assert list(proxy.toxics()) == ["bandwidth_upstream", "latency_downstream", "slow_close_downstream"]
    proxy.remove_toxic("latency_downstream")
    assert list(proxy.toxics()) == ["bandwidth_upstream", "slow_close_downstream"]
    proxy.remove_all_toxics()
    assert proxy.toxics() == {}


def test_toxic_errors_map_to_their_classes(proxy: Proxy) -> None:
    proxy.latency(0.01)

    with pytest.raises(ToxicExists) as exists:
        proxy.latency(0.02)
    assert isinstance(exists.value, IpcError) and not isinstance(exists.value, IpcUsageError)
    with pytest.raises(ToxicNotFound) as missing:
        proxy.remove_toxic("no-such-toxic")
    with pytest.raises(InvalidRequest) as invalid:
        proxy.add_toxic("gremlins")  # unknown types are the server's call, and its words reach us

    assert (exists.value.status, exists.value.message) == (409, "toxic already exists")
    assert (missing.value.status, missing.value.message) == (404, "toxic not found")
    assert (invalid.value.status, invalid.value.message) == (400, "invalid toxic type")


@pytest.mark.parametrize(
    ("add", "names"),
    [
        (lambda p: p.latency(0.01, stream="sideways"), ["'upstream'", "'downstream'", "'sideways'"]),
        (lambda p: p.latency(0.01, toxicity=1.5), ["0.0 to 1.0", "1.5"]),
        (lambda p: p.latency(0.01, toxicity=True), ["0.0 to 1.0", "True"]),
        (lambda p: p.latency(-0.1), ["latency toxic: latency", "seconds >= 0", "-0.1"]),
        (lambda p: p.latency(float("nan")), ["latency", "seconds >= 0", "nan"]),
        (lambda p: p.latency(True), ["latency", "seconds >= 0", "True"]),
        (lambda p: p.bandwidth(1000.0), ["bandwidth toxic: rate", "whole number of bytes/s", "1000.0"]),
        (lambda p: p.limit_data(-1), ["limit_data toxic: size", "whole number of bytes", "-1"]),
        (lambda p: p.latency(0.01).update(jitter="5"), ["latency toxic: jitter", "seconds >= 0", "'5'"]),
        (lambda p: p.latency(0.01).update(jiter=0.005), ["no attribute 'jiter'", "latency, jitter"]),
        (lambda p: p.add_toxic("limit_data", bytes=10), ["no attribute 'bytes'", "its attributes: size"]),
        (lambda p: p.add_toxic("noop", delay=1), ["no attribute 'delay'", "its attributes: none"]),
        (lambda p: p.latency(0.0004), ["latency=0.0004 s", "resolution of 1 ms (0.001 s)", "sent as 0"]),
        (lambda p: p.slow_close(0.0001), ["delay=0.0001 s", "resolution of 1 ms"]),
        (lambda p: p.slicer(10, delay=0.0000004), ["delay=4e-07 s", "resolution of 1 µs (1e-06 s)"]),
        (lambda p: p.bandwidth(400), ["rate=400 bytes/s", "resolution of 1 KB/s (1000 bytes/s)", "sent as 0"]),
    ],
)
def test_bad_arguments_are_refused_before_sending_with_the_valid_choices(
    proxy: Proxy, add: Callable[[Proxy], object], names: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        add(proxy)

    assert isinstance(raised.value, IpcUsageError)
    assert isinstance(raised.value, ValueError)
    for name in names:
        assert name in str(raised.value)
    assert all(toxic.type == "latency" and toxic.attributes["jitter"] == 0 for toxic in proxy.toxics().values())


@pytest.mark.parametrize(
    ("add", "wire"),
    [
        (lambda p: p.latency(0.0015), {"latency": 2, "jitter": 0}),  # to the nearest ms, halves up
        (lambda p: p.latency(0.0005), {"latency": 1, "jitter": 0}),
        (lambda p: p.latency(0.3), {"latency": 300, "jitter": 0}),  # 0.3 * 1000 is 300.00000000000006
        (lambda p: p.bandwidth(1499), {"rate": 1}),  # to the nearest KB/s of 1000 bytes
        (lambda p: p.bandwidth(2500), {"rate": 3}),
        (lambda p: p.bandwidth(500), {"rate": 1}),
        (lambda p: p.bandwidth(0), {"rate": 0}),  # 0 is a rate, the one that stalls
        (lambda p: p.slicer(10, delay=0.0000114), {"average_size": 10, "size_variation": 0, "delay": 11}),
    ],
)
def test_values_are_rounded_to_the_nearest_wire_unit(
    proxy: Proxy, embedded_server: EmbeddedToxiproxy, add: Callable[[Proxy], Toxic], wire: dict[str, int]
) -> None:
    toxic = add(proxy)

    assert httpx.get(f"{embedded_server.url}/proxies/echo/toxics/{toxic.name}").json()["attributes"] == wire


def test_a_custom_toxic_types_attributes_pass_through_unconverted(proxy: Proxy) -> None:
    """Types this client does not know keep the server's names and units, both ways."""
    with pytest.raises(InvalidRequest, match="invalid toxic type") as raised:
        proxy.add_toxic("gremlins", mischief=1.5, level="high")
    assert raised.value.status == 400

    assert from_wire("gremlins", {"mischief": 1500}) == {"mischief": 1500}
    assert to_wire("gremlins", {"mischief": 1.5, "level": "high"}) == {"mischief": 1.5, "level": "high"}
    assert from_wire("latency", {"latency": 300, "shiny_new": 7}) == {"latency": 0.3, "shiny_new": 7}


def test_down_refuses_connections_inside_and_serves_after(proxy: Proxy, round_trip: RoundTrip) -> None:
    with proxy.down() as same:
        assert same is proxy
        assert proxy.enabled is False
        assert proxy.port > 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=2).close()

    assert proxy.enabled is True
    assert round_trip(proxy.address) == b"ping"


def test_down_comes_back_up_when_the_block_raises(proxy: Proxy, round_trip: RoundTrip) -> None:
    with pytest.raises(ZeroDivisionError), proxy.down():
        _ = 1 / 0

    assert proxy.refresh().enabled is True
    assert round_trip(proxy.address) == b"ping"


def test_disable_closes_live_connections_and_keeps_toxics(proxy: Proxy) -> None:
    proxy.latency(0.005)
    with socket.create_connection(proxy.address, timeout=5) as live:
        live.sendall(b"x")
        assert live.recv(1) == b"x"

        proxy.disable()

        with suppress(ConnectionResetError):  # a reset is as good as EOF: the connection is gone
            assert live.recv(1) == b""
    assert list(proxy.toxics()) == ["latency_downstream"]
    proxy.enable()
    assert proxy.enabled is True


def test_counters_show_the_fault_fired(proxy: Proxy, round_trip: RoundTrip) -> None:
    before = proxy.counters()
    assert before == ProxyCounters()

    assert round_trip(proxy.address, b"12345") == b"12345"
    with proxy.reset_peer(name="cut-it"), pytest.raises(ConnectionResetError):
        round_trip(proxy.address, b"abc")

    counters = proxy.counters()
    assert counters.connections_accepted == 2
    assert counters.upstream.received == 8  # "12345" + "abc" from the client
    assert counters.downstream.sent == 5  # only the first answer came back
    assert counters.toxics["cut-it"].type == "reset_peer"
    assert counters.toxics["cut-it"].activations == 1
    assert counters.toxics["cut-it"].connections_cut == 1


def test_connections_lists_each_open_connection(proxy: Proxy, echo_upstream: str) -> None:
    assert proxy.connections() == []
    with socket.create_connection(proxy.address, timeout=5) as live:
        live.sendall(b"x")
        assert live.recv(1) == b"x"  # the upstream side is connected by now

        (connection,) = proxy.connections()

        host, port = live.getsockname()[:2]
        assert connection.client == f"{host}:{port}"
        assert connection.upstream == echo_upstream
        assert proxy.counters().connections_active == 1
