"""The fluent Proxy and Toxic handles against the real embedded server, measured on real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import suppress

import pytest

from pytest_ipc.client import (
    InvalidArgument,
    InvalidRequest,
    Proxy,
    ProxyCounters,
    ToxicExists,
    ToxicNotFound,
    ToxiproxyClient,
)

RoundTrip = Callable[..., bytes]


@pytest.fixture
def proxy(client: ToxiproxyClient, echo_upstream: str) -> Proxy:
    return client.create_proxy("echo", upstream=echo_upstream)


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("add", "expected"),
    [
        (lambda p: p.latency(120, 15), ("latency", {"latency": 120, "jitter": 15})),
        (lambda p: p.bandwidth(64), ("bandwidth", {"rate": 64})),
        (lambda p: p.timeout(250), ("timeout", {"timeout": 250})),
        (lambda p: p.reset_peer(), ("reset_peer", {"timeout": 0})),
        (lambda p: p.slow_close(300), ("slow_close", {"delay": 300})),
        (lambda p: p.slicer(100, 10, 5), ("slicer", {"average_size": 100, "size_variation": 10, "delay": 5})),
        (lambda p: p.limit_data(2048), ("limit_data", {"bytes": 2048})),
    ],
)
def test_each_toxic_method_sends_toxiproxys_attribute_names(
    proxy: Proxy, add: Callable[[Proxy], object], expected: tuple[str, dict[str, int]]
) -> None:
    toxic_type, attributes = expected
    toxic = add(proxy)

    stored = proxy.get_toxic(f"{toxic_type}_downstream")
    for seen in (toxic, stored):
        assert (seen.type, seen.stream, seen.toxicity, seen.attributes) == (  # type: ignore[attr-defined]
            toxic_type,
            "downstream",
            1.0,
            attributes,
        )


def test_stream_toxicity_and_name_are_passed(proxy: Proxy) -> None:
    toxic = proxy.latency(50, stream="upstream", toxicity=0.25, name="slow-requests")

    assert (toxic.name, toxic.stream, toxic.toxicity) == ("slow-requests", "upstream", 0.25)
    assert list(proxy.toxics()) == ["slow-requests"]


def test_latency_toxic_delays_while_in_the_block_only(proxy: Proxy, round_trip: RoundTrip) -> None:
    with proxy.latency(600) as toxic:
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
    with proxy.latency(10) as toxic:
        toxic.remove()
    assert proxy.toxics() == {}


def test_update_changes_attributes_and_toxicity_in_place(proxy: Proxy, round_trip: RoundTrip) -> None:
    toxic = proxy.latency(20, jitter_ms=5)

    updated = toxic.update(latency=500, toxicity=0.5)

    assert updated is toxic
    assert (toxic.attributes, toxic.toxicity) == ({"latency": 500, "jitter": 5}, 0.5)
    stored = proxy.get_toxic("latency_downstream")
    assert (stored.attributes, stored.toxicity) == ({"latency": 500, "jitter": 5}, 0.5)

    toxic.update(toxicity=1.0)
    assert timed(lambda: round_trip(proxy.address)) >= 0.5 - 0.005  # 500 ms, less at most the 5 ms jitter


def test_remove_toxic_and_remove_all_toxics(proxy: Proxy) -> None:
    proxy.latency(10)
    proxy.bandwidth(100, stream="upstream")
    proxy.slow_close(10)

    assert list(proxy.toxics()) == ["bandwidth_upstream", "latency_downstream", "slow_close_downstream"]
    proxy.remove_toxic("latency_downstream")
    assert list(proxy.toxics()) == ["bandwidth_upstream", "slow_close_downstream"]
    proxy.remove_all_toxics()
    assert proxy.toxics() == {}


def test_toxic_errors_map_to_their_classes(proxy: Proxy) -> None:
    proxy.latency(10)

    with pytest.raises(ToxicExists) as exists:
        proxy.latency(20)
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
        (lambda p: p.latency(10, stream="sideways"), ["'upstream'", "'downstream'", "'sideways'"]),
        (lambda p: p.latency(10, toxicity=1.5), ["0.0 to 1.0", "1.5"]),
        (lambda p: p.latency(10, toxicity=True), ["0.0 to 1.0", "True"]),
        (lambda p: p.latency(1.5), ["'latency'", "integer", "1.5"]),
        (lambda p: p.bandwidth(1000.0), ["'rate'", "integer", "1000.0"]),
        (lambda p: p.latency(10).update(jitter="5"), ["'jitter'", "integer", "'5'"]),
    ],
)
def test_bad_arguments_are_refused_before_sending_with_the_valid_choices(
    proxy: Proxy, add: Callable[[Proxy], object], names: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        add(proxy)

    assert isinstance(raised.value, ValueError)
    for name in names:
        assert name in str(raised.value)
    assert all(toxic.type == "latency" and toxic.attributes["jitter"] == 0 for toxic in proxy.toxics().values())


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
    proxy.latency(5)
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
