"""ToxiproxyClient against the real embedded server: every call, and each error the server can give."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer

from pytest_ipc._net import free_port
from pytest_ipc.client import (
    InvalidRequest,
    ProxyExists,
    ProxyNotFound,
    ServerUnreachable,
    ToxiproxyClient,
    ToxiproxyError,
    UnsupportedByServer,
)
from pytest_ipc.client.client import host_port
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

RoundTrip = Callable[..., bytes]


def test_version_is_a_toxiproxy_release(client: ToxiproxyClient) -> None:
    assert re.fullmatch(r"2\.\d+\.\d+", client.version())


def test_create_proxy_binds_a_loopback_port_and_forwards(
    client: ToxiproxyClient, echo_upstream: str, round_trip: RoundTrip
) -> None:
    proxy = client.create_proxy("orders", upstream=echo_upstream)

    assert (proxy.name, proxy.upstream, proxy.enabled) == ("orders", echo_upstream, True)
    assert proxy.host == "127.0.0.1"
    assert proxy.port > 0
    assert proxy.listen == f"127.0.0.1:{proxy.port}"
    assert proxy.address == ("127.0.0.1", proxy.port)
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"
    assert round_trip(proxy.address, b"hello through the proxy") == b"hello through the proxy"


def test_upstream_and_listen_may_be_address_tuples(
    client: ToxiproxyClient, echo_upstream: str, round_trip: RoundTrip
) -> None:
    inner = client.create_proxy("inner", upstream=echo_upstream)
    outer = client.create_proxy("outer", upstream=inner.address, listen=("127.0.0.1", 0))

    assert outer.upstream == inner.listen
    assert round_trip(outer.address, b"through two proxies") == b"through two proxies"
    assert host_port(("::1", 8474)) == "[::1]:8474"


def test_proxies_and_get_proxy_read_the_server_state(client: ToxiproxyClient, echo_upstream: str) -> None:
    assert client.proxies() == {}
    created = client.create_proxy("billing", upstream=echo_upstream, enabled=False)

    listed = client.proxies()
    fetched = client.get_proxy("billing")

    assert list(listed) == ["billing"]
    for proxy in (listed["billing"], fetched):
        assert (proxy.name, proxy.listen, proxy.upstream, proxy.enabled) == (
            "billing",
            created.listen,
            echo_upstream,
            False,
        )


def test_a_name_with_spaces_is_addressable(client: ToxiproxyClient, echo_upstream: str) -> None:
    proxy = client.create_proxy("orders db", upstream=echo_upstream)
    proxy.latency(0.01)

    assert list(client.get_proxy("orders db").toxics()) == ["latency_downstream"]
    proxy.delete()
    assert client.proxies() == {}


def test_delete_proxy_closes_its_port(client: ToxiproxyClient, echo_upstream: str) -> None:
    proxy = client.create_proxy("doomed", upstream=echo_upstream)
    client.delete_proxy("doomed")

    with pytest.raises(ProxyNotFound):
        client.get_proxy("doomed")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(proxy.address, timeout=2).close()


def test_populate_creates_and_keeps_unchanged_proxies(client: ToxiproxyClient, echo_upstream: str) -> None:
    first = client.create_proxy("a", upstream=echo_upstream)
    first.latency(0.1)

    populated = client.populate(
        [
            {"name": "a", "upstream": echo_upstream, "listen": first.listen},
            {"name": "b", "upstream": echo_upstream, "listen": "127.0.0.1:0"},
        ]
    )

    assert sorted(proxy.name for proxy in populated) == ["a", "b"]
    assert sorted(client.proxies()) == ["a", "b"]
    assert list(client.get_proxy("a").toxics()) == ["latency_downstream"]  # unchanged: toxics kept
    assert client.populate([]) == []


def test_populate_error_quotes_the_entry(client: ToxiproxyClient, echo_upstream: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        client.populate([{"name": "ok", "upstream": echo_upstream}, {"upstream": echo_upstream}])

    assert raised.value.status == 400
    assert raised.value.message == "missing required field: name at proxy 2"


def test_reset_enables_every_proxy_and_removes_every_toxic(
    client: ToxiproxyClient, echo_upstream: str, round_trip: RoundTrip
) -> None:
    proxy = client.create_proxy("flaky", upstream=echo_upstream)
    proxy.latency(0.1)
    proxy.timeout(0, stream="upstream")
    proxy.disable()

    client.reset()

    after = client.get_proxy("flaky")
    assert after.enabled is True
    assert after.listen == proxy.listen
    assert after.toxics() == {}
    assert round_trip(after.address) == b"ping"


def test_existing_proxy_name_raises_proxy_exists(client: ToxiproxyClient, echo_upstream: str) -> None:
    client.create_proxy("twice", upstream=echo_upstream)

    with pytest.raises(ProxyExists) as raised:
        client.create_proxy("twice", upstream=echo_upstream)

    assert raised.value.status == 409
    assert raised.value.message == "proxy already exists"
    assert "'proxy already exists'" in str(raised.value)
    assert "POST" in str(raised.value)
    assert "/proxies" in str(raised.value)


def test_missing_proxy_raises_proxy_not_found(client: ToxiproxyClient) -> None:
    with pytest.raises(ProxyNotFound) as raised:
        client.get_proxy("nothing-here")
    assert (raised.value.status, raised.value.message) == (404, "proxy not found")

    with pytest.raises(ProxyNotFound):
        client.delete_proxy("nothing-here")


@pytest.mark.parametrize(
    ("name", "upstream", "message"),
    [("", "127.0.0.1:1", "missing required field: name"), ("x", "", "missing required field: upstream")],
)
def test_missing_fields_reach_the_user_as_the_server_words_them(
    client: ToxiproxyClient, name: str, upstream: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        client.create_proxy(name, upstream=upstream)
    assert (raised.value.status, raised.value.message) == (400, message)


def test_listen_failure_is_a_server_error_and_adds_no_proxy(client: ToxiproxyClient, echo_upstream: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(ToxiproxyError) as raised:
            client.create_proxy("clash", upstream=echo_upstream, listen=f"127.0.0.1:{port}")

    assert raised.value.status == 500
    assert "address already in use" in raised.value.message
    assert client.proxies() == {}


def test_unreachable_server_says_where_it_looked() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ToxiproxyClient(url, timeout=2) as client, pytest.raises(ServerUnreachable) as raised:
        client.version()

    assert raised.value.status is None
    assert url in str(raised.value)


def test_a_silent_server_times_out_with_the_figure() -> None:
    with socket.socket() as silent:  # the kernel completes connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with ToxiproxyClient(url, timeout=0.3) as client, pytest.raises(ServerUnreachable) as raised:
            client.proxies()

    assert "no answer within 0.3 s" in str(raised.value)
    assert f"GET {url}/proxies" in str(raised.value)


def test_client_is_bound_to_its_own_url(embedded_server: EmbeddedToxiproxy, echo_upstream: str) -> None:
    """Two clients, two servers: no process-wide host/port as in toxiproxy-python."""
    with EmbeddedToxiproxy() as other_server, ToxiproxyClient(other_server.url) as other:
        other.create_proxy("only-on-other", upstream=echo_upstream)
        with ToxiproxyClient(embedded_server.url) as mine:
            assert "only-on-other" not in mine.proxies()
        assert list(other.proxies()) == ["only-on-other"]


def test_counters_on_a_server_without_them_names_the_reason(httpserver: HTTPServer) -> None:
    """A real Toxiproxy has no counters endpoint; its router answers 404 in plain text, as here.

    No Toxiproxy binary can be had on this machine, so a plain HTTP server stands in for exactly
    the two answers involved.
    """
    proxy_json = {"name": "db", "listen": "127.0.0.1:20000", "upstream": "127.0.0.1:5432", "enabled": True}
    httpserver.expect_request("/proxies/db").respond_with_json({**proxy_json, "toxics": []})
    httpserver.expect_request("/proxies/db/counters").respond_with_data(
        "404 page not found\n", status=404, content_type="text/plain; charset=utf-8"
    )

    with ToxiproxyClient(httpserver.url_for("/")) as client:
        proxy = client.get_proxy("db")
        with pytest.raises(UnsupportedByServer) as raised:
            proxy.counters()

    assert raised.value.status == 404
    assert "per-proxy counters is an addition of pytest-ipc's embedded Toxiproxy" in str(raised.value)
    assert "404 page not found" in str(raised.value)


def test_an_old_toxiproxy_gets_updates_by_post_and_its_plain_version(httpserver: HTTPServer) -> None:
    """Toxiproxy < 2.6 routes updates by POST only, answers PATCH with a bare 405 and its version
    in plain text, as here."""
    httpserver.expect_request("/version").respond_with_data("2.1.4\n", content_type="text/plain")
    proxy_json = {"name": "db", "listen": "127.0.0.1:20000", "upstream": "127.0.0.1:5432", "toxics": []}
    httpserver.expect_request("/proxies/db", method="GET").respond_with_json({**proxy_json, "enabled": True})
    httpserver.expect_request("/proxies/db", method="PATCH").respond_with_data("", status=405)
    httpserver.expect_request("/proxies/db", method="POST", json={"enabled": False}).respond_with_json(
        {**proxy_json, "enabled": False}
    )
    httpserver.expect_request("/proxies/db", method="POST", json={"enabled": True}).respond_with_json(
        {**proxy_json, "enabled": True}
    )

    with ToxiproxyClient(httpserver.url_for("/")) as client:
        assert client.version() == "2.1.4"
        proxy = client.get_proxy("db")
        with proxy.down():
            assert proxy.enabled is False
        assert proxy.enabled is True

    methods = [request.method for request, _ in httpserver.log]
    assert methods == ["GET", "GET", "PATCH", "POST", "POST"]  # one 405, then POST for good
