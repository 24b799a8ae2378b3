"""The admin API against Toxiproxy 2.12's observable behaviour, over real sockets.

Whole bodies are compared wherever Toxiproxy's body is known, because clients compare them too.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_ipc._errors import IpcUsageError
from pytest_ipc._net import LOOPBACK, split_host_port
from pytest_ipc.toxiproxy import ConfigError, EmbeddedToxiproxy
from pytest_ipc.toxiproxy.collection import ProxyCollection

REQUEST_ID = re.compile(r"^[0-9a-v]{20}$")


@pytest.fixture
def server() -> Iterator[EmbeddedToxiproxy]:
    with EmbeddedToxiproxy(seed=7) as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building one costs ~0.1 s (its TLS context), a server 3 ms."""
    with httpx.Client(timeout=10) as client:
        yield client


def pointed_at(http: httpx.Client, server: EmbeddedToxiproxy) -> httpx.Client:
    http.base_url = httpx.URL(server.url)
    return http


@pytest.fixture
def api(server: EmbeddedToxiproxy, http: httpx.Client) -> httpx.Client:
    return pointed_at(http, server)


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port something else listens on, for listen failures."""
    with socket.create_server((LOOPBACK, 0)) as blocker:
        yield blocker.getsockname()[1]


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    """Toxiproxy errors go through Go's http.Error: plain text, JSON, trailing newline."""
    expected = json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):  # Go's HTML-safe JSON
        expected = expected.replace(char, escape)
    assert (response.status_code, response.text) == (status, expected)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert REQUEST_ID.match(response.headers["x-toxiproxy-request-id"])


def create(api: httpx.Client, name: str, upstream: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/proxies", json={"name": name, "upstream": upstream, "listen": f"{LOOPBACK}:0", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def connect(proxy: dict[str, Any]) -> socket.socket:
    client = socket.create_connection(split_host_port(proxy["listen"]), timeout=5)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def is_closed(client: socket.socket) -> bool:
    """True when the peer closed (EOF or RST) within the socket's timeout."""
    try:
        return client.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def refuses(listen: str) -> bool:
    try:
        socket.create_connection(split_host_port(listen), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


# -- server-level behaviour ----------------------------------------------------------------------


def test_version_is_upstreams_exact_body(api: httpx.Client) -> None:
    response = api.get("/version")
    assert (response.status_code, response.content) == (200, b'{"version": "2.12.0"}\n')
    assert response.headers["content-type"] == "application/json;charset=utf-8"


def test_every_matched_response_has_a_fresh_request_id(api: httpx.Client) -> None:
    ids = {api.get("/version").headers["x-toxiproxy-request-id"] for _ in range(5)}
    ids.add(api.get("/proxies/missing").headers["x-toxiproxy-request-id"])
    assert len(ids) == 6 and all(REQUEST_ID.match(request_id) for request_id in ids)


def test_browsers_are_refused_on_matched_routes_only(api: httpx.Client) -> None:
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    refused = api.get("/proxies", headers=browser)
    assert (refused.status_code, refused.text) == (403, "User agent not allowed\n")
    assert REQUEST_ID.match(refused.headers["x-toxiproxy-request-id"])
    assert api.get("/unknown", headers=browser).status_code == 404
    assert api.get("/proxies", headers={"User-Agent": "curl/8.0 Mozilla/"}).status_code == 200


@pytest.mark.parametrize("path", ["/", "/proxies/a/b", "/proxies/a/toxics/b/c", "/metrics", "/proxies/"])
def test_unknown_paths_get_gos_plain_404(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert (response.status_code, response.text) == (404, "404 page not found\n")
    assert "x-toxiproxy-request-id" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/proxies"),
        ("PUT", "/version"),
        ("GET", "/reset"),
        ("GET", "/populate"),
        ("PUT", "/proxies/p"),
        ("PATCH", "/proxies/p/toxics"),
        ("HEAD", "/proxies"),
    ],
)
def test_a_known_path_with_the_wrong_method_gets_an_empty_405(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert (response.status_code, response.content) == (405, b"")


def raw_exchange(server: EmbeddedToxiproxy, data: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as client:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received


def test_unclean_paths_are_redirected_like_gorilla_mux(server: EmbeddedToxiproxy) -> None:
    reply = raw_exchange(server, b"GET //proxies/../version?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"\r\nLocation: /version?x=1\r\n" in reply


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ],
)
def test_malformed_http_gets_400_and_the_server_keeps_serving(
    server: EmbeddedToxiproxy, api: httpx.Client, garbage: bytes
) -> None:
    reply = raw_exchange(server, garbage)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n") and reply.endswith(b"\r\n\r\n400 Bad Request")
    assert api.get("/version").status_code == 200


def test_a_connection_dropped_mid_request_does_not_hurt_the_server(
    server: EmbeddedToxiproxy, api: httpx.Client
) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as client:
        client.sendall(b'POST /proxies HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{"na')
    assert api.get("/proxies").json() == {}


def test_an_oversized_body_is_refused_and_the_server_keeps_serving(api: httpx.Client) -> None:
    response = api.post("/populate", content=b"[" + b" " * (2 << 20) + b"]")
    expected = '{"error":"bad request body: http: request body too large","status":413}\n'
    assert (response.status_code, response.text) == (413, expected)
    assert api.get("/version").status_code == 200


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: EmbeddedToxiproxy) -> None:
    body = b'[{"name":"p","upstream":"127.0.0.1:9","enabled":false}]'
    head = b"POST /populate HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection((server.host, server.port), timeout=5) as client:
        client.sendall(head)
        assert client.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")
        client.sendall(body)
        assert client.recv(65536).startswith(b"HTTP/1.1 201 Created\r\n")


def test_keep_alive_serves_many_requests_on_one_connection(server: EmbeddedToxiproxy) -> None:
    request = b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n"
    reply = raw_exchange(server, request * 3)
    assert reply.count(b'{"version": "2.12.0"}\n') == 3


# -- proxies -------------------------------------------------------------------------------------


def test_no_proxies_is_an_empty_object(api: httpx.Client) -> None:
    response = api.get("/proxies")
    assert (response.status_code, response.content) == (200, b"{}")
    assert response.headers["content-type"] == "application/json"


def test_create_answers_201_with_the_bound_listen_address(api: httpx.Client, echo_server: Any, wire: Any) -> None:
    response = api.post("/proxies", json={"name": "db", "upstream": echo_server.address, "listen": "localhost:0"})
    assert response.status_code == 201
    port = split_host_port(response.json()["listen"])[1]
    assert port > 0
    assert response.content == (
        b'{"name":"db","listen":"127.0.0.1:%d","upstream":"%s","enabled":true,"Logger":{},"toxics":[]}'
        % (port, echo_server.address.encode())
    )
    with connect(response.json()) as client:
        wire.round_trip(client, b"through the proxy")
    assert api.get("/proxies").json() == {"db": response.json()}
    assert api.get("/proxies/db").json() == response.json()


def test_a_proxy_without_listen_binds_a_free_loopback_port(api: httpx.Client) -> None:
    response = api.post("/proxies", json={"name": "p", "upstream": "127.0.0.1:9"})
    host, port = split_host_port(response.json()["listen"])
    assert (response.status_code, host) == (201, LOOPBACK) and port > 0


def test_a_proxy_created_disabled_keeps_listen_as_given_and_does_not_listen(
    api: httpx.Client, occupied_port: int
) -> None:
    listen = f"localhost:{occupied_port}"  # would fail to bind: proves nothing was started
    proxy = create(api, "off", "127.0.0.1:9", listen=listen, enabled=False)
    assert (proxy["listen"], proxy["enabled"]) == (listen, False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "bad request body: EOF"),
        (b'{"name":"p"', "bad request body: unexpected EOF"),
        (b"name=p", "bad request body: invalid character 'a' in literal null (expecting 'u')"),
        (b"<xml/>", "bad request body: invalid character '<' looking for beginning of value"),
        (b"[]", "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy"),
        (
            b'{"name":"p","upstream":"u","enabled":"true"}',
            "bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool",
        ),
        (
            b'{"enabled":1}',
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.enabled of type bool",
        ),
        (b"{}", "missing required field: name"),
        (b"null", "missing required field: name"),
        (b'{"name":"","upstream":""}', "missing required field: name"),
        (b'{"name":"p"}', "missing required field: upstream"),
        (b'{"name":"p","upstream":null}', "missing required field: upstream"),
    ],
)
def test_create_rejects_bad_bodies_with_upstreams_messages(api: httpx.Client, body: bytes, message: str) -> None:
    assert_error(api.post("/proxies", content=body), 400, message)
    assert api.get("/proxies").json() == {}


def test_create_reads_keys_case_insensitively_and_ignores_unknown_ones_and_nulls(api: httpx.Client) -> None:
    body = b'{"NAME":"p","UpStream":"127.0.0.1:9","Listen":"127.0.0.1:0","enabled":null,"colour":[{"x":1}]}'
    response = api.post("/proxies", content=body)
    assert response.status_code == 201
    assert (response.json()["name"], response.json()["enabled"]) == ("p", True)


def test_a_name_clash_is_409_and_is_checked_before_listening(api: httpx.Client, occupied_port: int) -> None:
    create(api, "p", "127.0.0.1:9")
    clash = api.post("/proxies", json={"name": "p", "upstream": "127.0.0.1:9", "listen": f"{LOOPBACK}:{occupied_port}"})
    assert_error(clash, 409, "proxy already exists")


def test_a_port_in_use_is_500_with_gos_message_and_the_proxy_is_not_added(
    api: httpx.Client, occupied_port: int
) -> None:
    response = api.post(
        "/proxies", json={"name": "p", "upstream": "127.0.0.1:9", "listen": f"localhost:{occupied_port}"}
    )
    assert_error(response, 500, f"listen tcp 127.0.0.1:{occupied_port}: bind: address already in use")
    assert api.get("/proxies").json() == {}
    create(api, "p", "127.0.0.1:9")  # the name is free and the server still works


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("nohostport", "listen tcp: address nohostport: missing port in address"),
        ("127.0.0.1:99999", "listen tcp: address 99999: invalid port"),
        ("::1:80", "listen tcp: address ::1:80: too many colons in address"),
    ],
)
def test_an_unusable_listen_address_is_500_with_gos_message(api: httpx.Client, listen: str, message: str) -> None:
    response = api.post("/proxies", json={"name": "p", "upstream": "127.0.0.1:9", "listen": listen})
    assert_error(response, 500, message)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("POST", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/t"),
        ("DELETE", "/proxies/nope/toxics/t"),
    ],
)
def test_a_missing_proxy_is_404_before_the_body_is_read(api: httpx.Client, method: str, path: str) -> None:
    assert_error(api.request(method, path, content=b"not json"), 404, "proxy not found")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_disabling_closes_the_listener_and_live_connections_and_enabling_reuses_the_port(
    api: httpx.Client, echo_server: Any, wire: Any, method: str
) -> None:
    proxy = create(api, "p", echo_server.address)
    api.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 1}})
    with connect(proxy) as client:
        wire.round_trip(client)
        down = api.request(method, "/proxies/p", json={"enabled": False})
        assert (down.status_code, down.json()["enabled"], down.json()["listen"]) == (200, False, proxy["listen"])
        assert is_closed(client)
    assert refuses(proxy["listen"])
    up = api.request(method, "/proxies/p", json={"enabled": True})
    assert up.json() == {**proxy, "toxics": down.json()["toxics"]}  # same port, toxics kept
    assert len(up.json()["toxics"]) == 1
    with connect(proxy) as client:
        wire.round_trip(client)


def test_changing_listen_restarts_the_proxy_and_drops_its_connections(
    api: httpx.Client, echo_server: Any, wire: Any
) -> None:
    proxy = create(api, "p", echo_server.address)
    with connect(proxy) as client:
        wire.round_trip(client)
        moved = api.patch("/proxies/p", json={"listen": f"{LOOPBACK}:0"}).json()
        assert moved["listen"] != proxy["listen"] and moved["enabled"]
        assert is_closed(client)
    with connect(moved) as client:
        wire.round_trip(client)


def test_the_same_listen_spelled_as_a_hostname_does_not_restart(api: httpx.Client, echo_server: Any, wire: Any) -> None:
    proxy = create(api, "p", echo_server.address)
    port = split_host_port(proxy["listen"])[1]
    with connect(proxy) as client:
        wire.round_trip(client)
        same = api.patch("/proxies/p", json={"listen": f"localhost:{port}", "upstream": echo_server.address})
        assert same.json() == proxy
        wire.round_trip(client, b"still connected")


def test_changing_upstream_restarts_onto_the_new_upstream(
    api: httpx.Client, echo_server: Any, tcp_server: Any, wire: Any
) -> None:
    greeter = tcp_server(lambda connection: connection.sendall(b"hello"))
    proxy = create(api, "p", echo_server.address)
    updated = api.post("/proxies/p", json={"upstream": greeter.address}).json()
    assert (updated["upstream"], updated["listen"]) == (greeter.address, proxy["listen"])
    with connect(updated) as client:
        assert wire.recv_exactly(client, 5) == b"hello"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "bad request body: EOF"),
        (
            b'{"listen":5}',
            400,
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.listen of type string",
        ),
        (b'{"listen":"nohostport"}', 500, "address nohostport: missing port in address"),
    ],
)
def test_update_errors(api: httpx.Client, body: bytes, status: int, message: str) -> None:
    proxy = create(api, "p", "127.0.0.1:9")
    assert_error(api.patch("/proxies/p", content=body), status, message)
    assert api.get("/proxies/p").json() == proxy


def test_update_onto_a_port_in_use_is_500_and_leaves_the_proxy_disabled(api: httpx.Client, occupied_port: int) -> None:
    create(api, "p", "127.0.0.1:9")
    listen = f"{LOOPBACK}:{occupied_port}"
    assert_error(
        api.patch("/proxies/p", json={"listen": listen}), 500, f"listen tcp {listen}: bind: address already in use"
    )
    assert api.get("/proxies/p").json()["enabled"] is False


def test_delete_is_204_stops_listening_and_forgets_toxics(api: httpx.Client) -> None:
    proxy = create(api, "p", "127.0.0.1:9")
    api.post("/proxies/p/toxics", json={"type": "timeout"})
    response = api.delete("/proxies/p")
    assert (response.status_code, response.content) == (204, b"")
    assert refuses(proxy["listen"])
    assert api.get("/proxies").json() == {}
    assert create(api, "p", "127.0.0.1:9")["toxics"] == []


# -- toxics --------------------------------------------------------------------------------------

ZERO_ATTRIBUTES = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
    "noop": {},
}


@pytest.mark.parametrize("toxic_type", sorted(ZERO_ATTRIBUTES))
def test_a_toxic_without_attributes_gets_every_attribute_at_zero_and_answers_200(
    api: httpx.Client, toxic_type: str
) -> None:
    create(api, "p", "127.0.0.1:9")
    response = api.post("/proxies/p/toxics", json={"type": toxic_type})
    attributes = json.dumps(ZERO_ATTRIBUTES[toxic_type], separators=(",", ":"))
    expected = f'{{"attributes":{attributes},"name":"{toxic_type}_downstream","type":"{toxic_type}","stream":"downstream","toxicity":1}}'
    assert (response.status_code, response.text) == (200, expected)
    assert response.headers["content-type"] == "application/json"


def test_toxics_list_the_upstream_chain_then_the_downstream_chain(api: httpx.Client) -> None:
    create(api, "p", "127.0.0.1:9")
    for body in (
        {"type": "latency", "name": "d1"},
        {"type": "timeout", "stream": "upstream", "name": "u1"},
        {"type": "bandwidth", "name": "d2"},
        {"type": "slicer", "stream": "upstream", "name": "u2"},
    ):
        assert api.post("/proxies/p/toxics", json=body).status_code == 200
    assert [toxic["name"] for toxic in api.get("/proxies/p/toxics").json()] == ["u1", "u2", "d1", "d2"]
    assert [toxic["name"] for toxic in api.get("/proxies/p").json()["toxics"]] == ["u1", "u2", "d1", "d2"]


def test_toxic_fields_are_read_like_go_reads_them(api: httpx.Client) -> None:
    create(api, "p", "127.0.0.1:9")
    body = b'{"TYPE":"latency","Stream":"UPSTREAM","toxicity":0.3,"attributes":{"LATENCY":-5,"other":"x"},"name":null}'
    response = api.post("/proxies/p/toxics", content=body)
    assert response.json() == {
        "attributes": {"latency": -5, "jitter": 0},
        "name": "latency_UPSTREAM",
        "type": "latency",
        "stream": "UPSTREAM",
        "toxicity": 0.3,
    }
    assert b'"toxicity":0.3}' in response.content  # float32 0.3 printed short, as Go does


@pytest.mark.parametrize(
    ("stream", "listed"),
    [("DOWNSTREAM", ["u", "d", "latency_DOWNSTREAM"]), ("UpStream", ["latency_UpStream", "u", "d"])],
)
def test_a_streams_spelling_is_echoed_as_given_and_its_direction_read_without_case(
    api: httpx.Client, echo_server: Any, wire: Any, stream: str, listed: list[str]
) -> None:
    proxy = create(api, "p", echo_server.address)
    api.post("/proxies/p/toxics", json={"type": "noop", "stream": "downstream", "name": "d"})
    created = api.post("/proxies/p/toxics", json={"type": "latency", "stream": stream, "attributes": {"latency": 300}})
    api.post("/proxies/p/toxics", json={"type": "noop", "stream": "upstream", "name": "u"})

    expected = {
        "attributes": {"latency": 300, "jitter": 0},
        "name": f"latency_{stream}",
        "type": "latency",
        "stream": stream,
        "toxicity": 1,
    }
    assert (created.status_code, created.json()) == (200, expected)
    assert api.get(f"/proxies/p/toxics/latency_{stream}").json() == expected
    assert api.patch(f"/proxies/p/toxics/latency_{stream}", json={"toxicity": 1}).json() == expected
    # The upstream chain is listed first: the toxic sits in the chain its stream names, whatever the case.
    assert [toxic["name"] for toxic in api.get("/proxies/p/toxics").json()] == listed
    assert [toxic["stream"] for toxic in api.get("/proxies/p").json()["toxics"]].count(stream) == 1
    with connect(proxy) as client:
        assert wire.round_trip(client) >= 0.29  # the echo is 300 ms late: the toxic acts


def test_the_noop_toxic_is_accepted_and_passes_a_live_connections_data_unchanged(
    api: httpx.Client, echo_server: Any, wire: Any
) -> None:
    """Every 2.x server registers noop; upstream's own tests add it to live connections."""
    proxy = create(api, "p", echo_server.address)
    with connect(proxy) as client:
        assert wire.round_trip(client, b"before") < 0.2
        added = api.post("/proxies/p/toxics", json={"type": "noop", "attributes": {"latency": 5}})
        assert (added.status_code, added.text) == (
            200,
            '{"attributes":{},"name":"noop_downstream","type":"noop","stream":"downstream","toxicity":1}',
        )
        api.post("/proxies/p/toxics", json={"type": "noop", "stream": "upstream"})
        payload = os.urandom(64 * 1024)
        client.sendall(payload)
        assert wire.recv_exactly(client, len(payload)) == payload
        assert api.patch("/proxies/p/toxics/noop_downstream", json={"toxicity": 0.5}).json()["toxicity"] == 0.5
        assert api.delete("/proxies/p/toxics/noop_downstream").status_code == 204
        assert api.delete("/proxies/p/toxics/noop_upstream").status_code == 204
        assert wire.round_trip(client, b"after") < 0.2
    counters = api.get("/proxies/p/counters").json()
    assert counters["toxics"]["noop_upstream"] == {"type": "noop", "activations": 1}


@pytest.mark.parametrize("toxicity", [2.5, -1.0, 0.0])
def test_toxicity_is_not_range_checked(api: httpx.Client, toxicity: float) -> None:
    create(api, "p", "127.0.0.1:9")
    assert api.post("/proxies/p/toxics", json={"type": "latency", "toxicity": toxicity}).json()["toxicity"] == toxicity


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "bad request body: EOF"),
        (b'{"type":"latency",', 400, "bad request body: unexpected EOF"),
        (
            b'{"type":"latency","toxicity":"1"}',
            400,
            "bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type float32",
        ),
        (
            b'{"type":"latency","attributes":7}',
            400,
            "bad request body: json: cannot unmarshal number into Go struct field ToxicWrapper.attributes of type toxics.NoopToxic",
        ),
        # Checks run in order: body, stream, type, name, attributes.
        (
            b'{"type":"nope","stream":"sideways","toxicity":"x"}',
            400,
            "bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type float32",
        ),
        (b'{"type":"nope","stream":"sideways"}', 400, "stream was invalid, can be either upstream or downstream"),
        (b'{"type":"down","name":"taken"}', 400, "invalid toxic type"),
        (b'{"stream":"upstream"}', 400, "invalid toxic type"),
        (b'{"type":"latency","name":"taken","attributes":{"latency":1.5}}', 409, "toxic already exists"),
        (
            b'{"type":"latency","attributes":{"latency":1000.0}}',
            400,
            "bad request body: json: cannot unmarshal number 1000.0 into Go struct field LatencyToxic.attributes.latency of type int64",
        ),
        (
            b'{"type":"slicer","attributes":{"delay":true}}',
            400,
            "bad request body: json: cannot unmarshal bool into Go struct field SlicerToxic.attributes.delay of type int",
        ),
        (
            b'{"type":"bandwidth","attributes":{"rate":99999999999999999999}}',
            400,
            "bad request body: json: cannot unmarshal number 99999999999999999999 into Go struct field BandwidthToxic.attributes.rate "
            "of type int64",
        ),
    ],
)
def test_toxic_create_errors_in_upstreams_order(api: httpx.Client, body: bytes, status: int, message: str) -> None:
    create(api, "p", "127.0.0.1:9")
    api.post("/proxies/p/toxics", json={"type": "timeout", "stream": "upstream", "name": "taken"})
    assert_error(api.post("/proxies/p/toxics", content=body), status, message)
    assert [toxic["name"] for toxic in api.get("/proxies/p/toxics").json()] == ["taken"]


def test_toxic_names_are_unique_across_both_streams(api: httpx.Client) -> None:
    create(api, "p", "127.0.0.1:9")
    api.post("/proxies/p/toxics", json={"type": "latency", "name": "slow"})
    clash = api.post("/proxies/p/toxics", json={"type": "latency", "name": "slow", "stream": "upstream"})
    assert_error(clash, 409, "toxic already exists")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_toxic_update_merges_attributes_and_keeps_type_stream_and_name(api: httpx.Client, method: str) -> None:
    create(api, "p", "127.0.0.1:9")
    api.post(
        "/proxies/p/toxics", json={"type": "latency", "toxicity": 0.5, "attributes": {"latency": 100, "jitter": 10}}
    )
    body = {"attributes": {"jitter": 20, "rate": 5}, "type": "bandwidth", "stream": "upstream", "name": "x"}
    updated = api.request(method, "/proxies/p/toxics/latency_downstream", json=body)
    expected = {
        "attributes": {"latency": 100, "jitter": 20},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 0.5,
    }
    assert (updated.status_code, updated.json()) == (200, expected)
    assert api.patch("/proxies/p/toxics/latency_downstream", json={"toxicity": 0.25}).json()["toxicity"] == 0.25
    assert api.get("/proxies/p/toxics/latency_downstream").json() == {**expected, "toxicity": 0.25}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "bad request body: EOF"),
        (
            b'{"toxicity":"high"}',
            400,
            "bad request body: json: cannot unmarshal string into Go struct field .toxicity of type float32",
        ),
        (
            b'{"attributes":{"latency":0.5}}',
            400,
            "bad request body: json: cannot unmarshal number 0.5 into Go struct field LatencyToxic.attributes.latency of type int64",
        ),
        (
            b'{"attributes":"x"}',
            400,
            "bad request body: json: cannot unmarshal string into Go struct field .attributes of type toxics.LatencyToxic",
        ),
    ],
)
def test_toxic_update_errors(api: httpx.Client, body: bytes, status: int, message: str) -> None:
    create(api, "p", "127.0.0.1:9")
    before = api.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 3}}).json()
    assert_error(api.patch("/proxies/p/toxics/latency_downstream", content=body), status, message)
    assert api.get("/proxies/p/toxics/latency_downstream").json() == before


def test_a_missing_toxic_is_404(api: httpx.Client) -> None:
    create(api, "p", "127.0.0.1:9")
    for method in ("GET", "POST", "PATCH", "DELETE"):
        assert_error(api.request(method, "/proxies/p/toxics/nope", content=b"garbage"), 404, "toxic not found")


def test_toxic_delete_is_204(api: httpx.Client) -> None:
    create(api, "p", "127.0.0.1:9")
    api.post("/proxies/p/toxics", json={"type": "latency"})
    response = api.delete("/proxies/p/toxics/latency_downstream")
    assert (response.status_code, response.content) == (204, b"")
    assert api.get("/proxies/p/toxics").json() == []


def test_a_toxic_added_over_the_api_acts_on_a_live_connection(api: httpx.Client, echo_server: Any, wire: Any) -> None:
    proxy = create(api, "p", echo_server.address)
    with connect(proxy) as client:
        assert wire.round_trip(client) < 0.2
        api.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 300}})
        assert wire.round_trip(client) >= 0.29
        api.delete("/proxies/p/toxics/latency_downstream")
        assert wire.round_trip(client) < 0.2


def test_removing_a_toxic_that_holds_data_answers_at_once_and_releases_the_data(
    api: httpx.Client, echo_server: Any, wire: Any
) -> None:
    proxy = create(api, "p", echo_server.address)
    api.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 10_000}})
    with connect(proxy) as client:
        started = time.monotonic()
        client.sendall(b"held back")
        # The echo came back to the proxy and waits in the latency stage.
        wire.wait_until(lambda: api.get("/proxies/p/counters").json()["bytes"]["downstream"]["received"] == 9)
        assert api.delete("/proxies/p/toxics/latency_downstream").status_code == 204
        assert time.monotonic() - started < 2
        assert wire.recv_exactly(client, 9) == b"held back"
        assert time.monotonic() - started < 3


# -- populate and reset --------------------------------------------------------------------------


def populate(api: httpx.Client, entries: Any) -> httpx.Response:
    return api.post("/populate", json=entries)


def test_populating_nothing_answers_proxies_null(api: httpx.Client) -> None:
    for body in (b"[]", b"null"):
        response = api.post("/populate", content=body)
        assert (response.status_code, response.content) == (201, b'{"proxies":null}')


def test_populate_creates_keeps_unchanged_and_replaces_changed_proxies(
    api: httpx.Client, echo_server: Any, wire: Any
) -> None:
    entries = [
        {"name": "a", "upstream": echo_server.address, "listen": f"{LOOPBACK}:0"},
        {"name": "b", "upstream": "127.0.0.1:9", "listen": f"{LOOPBACK}:0", "enabled": False},
    ]
    first = populate(api, entries)
    assert first.status_code == 201
    created = first.json()["proxies"]
    assert [(proxy["name"], proxy["enabled"]) for proxy in created] == [("a", True), ("b", False)]
    api.post("/proxies/a/toxics", json={"type": "latency"})
    api.post("/proxies/b/toxics", json={"type": "latency"})

    entries = [
        {**created[0], "toxics": None},
        {"name": "b", "upstream": "127.0.0.1:10", "listen": created[1]["listen"]},
    ]
    with connect(created[0]) as client:
        second = populate(api, entries).json()["proxies"]
        wire.round_trip(client, b"kept: the connection survives")
    assert second[0] == {**created[0], "toxics": [api.get("/proxies/a/toxics").json()[0]]}
    assert (second[1]["upstream"], second[1]["toxics"], second[1]["enabled"]) == ("127.0.0.1:10", [], True)


def test_populate_validates_every_entry_before_creating_any(api: httpx.Client) -> None:
    response = populate(api, [{"name": "a", "upstream": "127.0.0.1:9"}, {"upstream": "127.0.0.1:9"}])
    assert (response.status_code, response.content) == (
        400,
        b'{"error":"missing required field: name at proxy 2","status":400,"proxies":null}',
    )
    assert response.headers["content-type"] == "application/json"
    response = populate(api, [{"name": "a", "upstream": "127.0.0.1:9"}, {"name": "b"}])
    assert response.json()["error"] == "missing required field: upstream at proxy 2"
    assert api.get("/proxies").json() == {}


def test_populate_stops_at_a_listen_failure_and_reports_what_it_created(api: httpx.Client, occupied_port: int) -> None:
    entries = [
        {"name": "a", "upstream": "127.0.0.1:9", "listen": f"{LOOPBACK}:0"},
        {"name": "b", "upstream": "127.0.0.1:9", "listen": f"{LOOPBACK}:{occupied_port}"},
        {"name": "c", "upstream": "127.0.0.1:9", "listen": f"{LOOPBACK}:0"},
    ]
    response = populate(api, entries)
    body = response.json()
    assert response.status_code == 500
    assert list(body) == ["error", "status", "proxies"]
    assert (body["error"], body["status"]) == (
        f"listen tcp 127.0.0.1:{occupied_port}: bind: address already in use",
        500,
    )
    assert [proxy["name"] for proxy in body["proxies"]] == ["a"]
    assert sorted(api.get("/proxies").json()) == ["a"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"{}",
            'json: cannot unmarshal object into Go value of type []struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }',
        ),
        (
            b"[1]",
            'json: cannot unmarshal number into Go value of type struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }',
        ),
        (b'[{"name":"a","enabled":"no"}]', "json: cannot unmarshal string into Go struct field .enabled of type bool"),
        (b"[", "unexpected EOF"),
    ],
)
def test_populate_body_errors(api: httpx.Client, body: bytes, message: str) -> None:
    response = api.post("/populate", content=body)
    assert response.status_code == 400
    assert response.json() == {"error": f"bad request body: {message}", "status": 400, "proxies": None}


def test_reset_enables_everything_removes_toxics_and_keeps_live_connections(
    api: httpx.Client, echo_server: Any, wire: Any
) -> None:
    on = create(api, "on", echo_server.address)
    off = create(api, "off", echo_server.address)
    api.post("/proxies/on/toxics", json={"type": "latency", "attributes": {"latency": 1}})
    api.post("/proxies/off/toxics", json={"type": "bandwidth", "stream": "upstream"})
    api.patch("/proxies/off", json={"enabled": False})
    with connect(on) as client:
        wire.round_trip(client)
        response = api.post("/reset", content=b"ignored")
        assert (response.status_code, response.content) == (204, b"")
        wire.round_trip(client, b"survived the reset")
    assert api.get("/proxies").json() == {"off": {**off, "toxics": []}, "on": {**on, "toxics": []}}
    with connect(off) as client:
        wire.round_trip(client)


# -- metrics and extensions ----------------------------------------------------------------------


def test_metrics_are_404_unless_switched_on(api: httpx.Client) -> None:
    response = api.get("/metrics")
    assert (response.status_code, response.text) == (404, "404 page not found\n")


def test_proxy_metrics_count_bytes_with_upstreams_names_and_labels(
    http: httpx.Client, echo_server: Any, wire: Any
) -> None:
    with EmbeddedToxiproxy(proxy_metrics=True) as server:
        api = pointed_at(http, server)
        proxy = create(api, "p", echo_server.address)
        with connect(proxy) as client:
            wire.round_trip(client, b"x" * 1000)
            wire.wait_until(lambda: " 1000\n" in api.get("/metrics").text)
        text = api.get("/metrics").text
        labels = f'listener="{proxy["listen"]}",proxy="p",upstream="{echo_server.address}"'
        for direction in ("upstream", "downstream"):
            assert f'toxiproxy_proxy_received_bytes_total{{direction="{direction}",{labels}}} 1000\n' in text
            assert f'toxiproxy_proxy_sent_bytes_total{{direction="{direction}",{labels}}} 1000\n' in text
        assert "# TYPE toxiproxy_proxy_sent_bytes_total counter\n" in text
        assert "process_open_fds" not in text
        assert api.post("/metrics").status_code == 200  # upstream routes /metrics for any method


def test_runtime_metrics_report_the_process(server: EmbeddedToxiproxy, http: httpx.Client) -> None:
    with EmbeddedToxiproxy(runtime_metrics=True) as metered:
        api = pointed_at(http, metered)
        response = api.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        values = dict(line.rsplit(" ", 1) for line in response.text.splitlines() if not line.startswith("#"))
        assert int(values["process_open_fds"]) > 3
        assert int(values["python_threads"]) >= 3  # main, this server's loop, the fixture server's loop
        assert "toxiproxy_proxy_received_bytes_total" not in response.text


def test_counters_and_connections_extensions(api: httpx.Client, echo_server: Any, wire: Any) -> None:
    proxy = create(api, "p", echo_server.address)
    api.post("/proxies/p/toxics", json={"type": "latency"})
    with connect(proxy) as client:
        wire.round_trip(client, b"12345")
        wire.wait_until(lambda: api.get("/proxies/p/connections").json()[0]["upstream"] == echo_server.address)
        (connection,) = api.get("/proxies/p/connections").json()
        assert connection["client"] == "{}:{}".format(*client.getsockname())
        counters = api.get("/proxies/p/counters").json()
        assert (counters["connections_accepted"], counters["connections_active"]) == (1, 1)
        assert counters["bytes"]["upstream"] == {"received": 5, "sent": 5}
        assert counters["toxics"]["latency_downstream"]["activations"] == 1
    assert_error(api.get("/proxies/nope/counters"), 404, "proxy not found")
    assert api.delete("/proxies/p/counters").text == "404 page not found\n"  # as upstream answers there


def test_a_seed_makes_every_proxys_toxicity_draws_repeatable() -> None:
    async def first_draws(seed: int | None) -> list[list[float]]:
        collection = ProxyCollection(seed)
        proxies = [
            await collection.create(b'{"name":"%d","upstream":"127.0.0.1:9","enabled":false}' % index)
            for index in range(3)
        ]
        return [[proxy.rng.random() for _ in range(3)] for proxy in proxies]

    seeded = asyncio.run(first_draws(11))
    assert seeded == asyncio.run(first_draws(11))
    assert len({tuple(draws) for draws in seeded}) == 3  # each proxy has its own stream
    assert seeded != asyncio.run(first_draws(12))
    assert asyncio.run(first_draws(None)) != asyncio.run(first_draws(None))


# -- the embedded server's own life cycle ---------------------------------------------------------


def test_stop_closes_the_api_every_proxy_and_every_connection(http: httpx.Client, echo_server: Any, wire: Any) -> None:
    server = EmbeddedToxiproxy().start()
    api_address = (server.host, server.port)
    proxy = create(pointed_at(http, server), "p", echo_server.address)
    with connect(proxy) as client:
        wire.round_trip(client)
        server.stop()
        assert is_closed(client)
    server.stop()  # idempotent
    assert refuses(proxy["listen"])
    assert refuses("{}:{}".format(*api_address))
    assert not server.running


def api_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("toxiproxy-api")]


def test_a_config_file_populates_the_server(tmp_path: Path, http: httpx.Client) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "a", "upstream": "127.0.0.1:9"}, {"name": "b", "upstream": "127.0.0.1:9"}]))
    with EmbeddedToxiproxy(config=config) as server:
        assert sorted(http.get(f"{server.url}/proxies").json()) == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), ('[{"name": "a"}]', "missing required field: upstream at proxy 1")],
)
def test_a_bad_config_file_fails_start_and_leaves_nothing_running(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    config = tmp_path / "proxies.json"
    if content is not None:
        config.write_text(content)
    before = api_threads()
    with pytest.raises(ConfigError) as caught:
        EmbeddedToxiproxy(config=config).start()
    assert str(caught.value) == f"toxiproxy config {config}: {reason}"
    assert isinstance(caught.value, IpcUsageError)
    assert api_threads() == before


def test_start_is_quick() -> None:
    started = time.perf_counter()
    with EmbeddedToxiproxy():
        elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"EmbeddedToxiproxy took {elapsed * 1000:.0f} ms to start"


def test_the_api_port_can_be_chosen_and_a_taken_one_fails_clearly(occupied_port: int) -> None:
    with pytest.raises(OSError, match="address already in use"):
        EmbeddedToxiproxy(port=occupied_port).start()
