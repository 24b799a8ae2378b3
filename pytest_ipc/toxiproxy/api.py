"""The admin HTTP API, route for route and byte for byte as Toxiproxy 2.12 answers.

Existing clients (Python, Ruby, Go, Node, toxiproxy-cli) and tests that run against a real Toxiproxy
container must not see a difference, so the details are upstream's, not tidier ones:

- success bodies are compact JSON with `Content-Type: application/json` and no trailing newline;
  `GET /version` alone answers `{"version": "2.12.0"}` plus a newline as
  `application/json;charset=utf-8`;
- errors are `{"error":"...","status":N}` plus a newline, sent through Go's `http.Error`, hence as
  `text/plain; charset=utf-8` with `X-Content-Type-Options: nosniff`; except `/populate`'s,
  `{"error":"...","status":N,"proxies":[...]}` as plain `application/json`;
- a proxy serialises as `name, listen, upstream, enabled, Logger, toxics` (`"Logger":{}` is an
  accident of upstream's Go struct that clients have lived with since 2.5), a toxic as
  `attributes, name, type, stream, toxicity`;
- matched routes carry `X-Toxiproxy-Request-Id` and refuse `User-Agent: Mozilla/...` with 403;
  unknown paths get 404 `404 page not found`, a known path with the wrong method 405 and no body;
  unclean paths (`//proxies`, `/a/../proxies`) are redirected with 301 as gorilla/mux does;
- a handler that takes more than 25 s answers 503 with Go's TimeoutHandler page (the change it
  was making still completes).

Beyond Toxiproxy, on paths it answers with 404 (so nothing a client relies on changes):

- `GET /proxies/{proxy}/counters`: the proxy's traffic and fault counters, e.g.
  `{"connections_accepted":3,"connections_active":1,"upstream_failures":0,"tls_client_hellos":0,
  "bytes":{"upstream":{"received":10,"sent":10},"downstream":{...}},
  "toxics":{"latency_downstream":{"type":"latency","activations":3}}}`;
- `GET /proxies/{proxy}/connections`: the live connections,
  `[{"client":"127.0.0.1:50312","upstream":"127.0.0.1:6380"}]`;
- `POST /proxies/{proxy}/tls_fault` (a proxy terminating TLS only): the TLS fault its handshakes meet,
  `{"certificate":"/bad.pem","key":"/bad.key.pem","client_ca":"","version":"","handshake":"","toxicity":1}`
  (`version` "TLSv1"/"TLSv1.1"/"TLSv1.2", `handshake` "stall"/"reset"), counted in the counters'
  `tls_fault_activations`; `DELETE` takes it away (POST /reset too).

A request body over `max_body` bytes is refused with 413
`{"error":"bad request body: http: request body too large","status":413}`; malformed HTTP gets
Go's plain `400 Bad Request`. Either way only that connection is closed. Unlike upstream, a Host
header that is neither an IP literal, localhost nor an allowed host is refused with 403, so a web
page whose name was rebound to 127.0.0.1 cannot create proxies.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import os
import posixpath
import re
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import quote

from pytest_ipc._http import Exchange, Request, Response
from pytest_ipc.toxiproxy import metrics
from pytest_ipc.toxiproxy.collection import TOXIC_NOT_FOUND, ApiError, PopulateResult, ProxyCollection
from pytest_ipc.toxiproxy.gojson import Float32, encode
from pytest_ipc.toxiproxy.model import VERSION, ToxicConfig
from pytest_ipc.toxiproxy.proxy import TcpProxy

logger = logging.getLogger(__name__)

HANDLER_TIMEOUT = 25.0
TIMEOUT_BODY = b"<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>"
REQUEST_ID_HEADER = "X-Toxiproxy-Request-Id"
JSON = "application/json"
PLAIN = "text/plain; charset=utf-8"

Params = dict[str, str]
Endpoint = Callable[[Request, Params], Awaitable[Response]]


def proxy_json(proxy: TcpProxy) -> dict[str, object]:
    body: dict[str, object] = {
        "name": proxy.name,
        "listen": proxy.listen,
        "upstream": proxy.upstream,
        "enabled": proxy.enabled,
        "Logger": {},
        "toxics": [toxic_json(toxic) for toxic in proxy.list_toxics()],
    }
    if proxy.tls is not None:  # pytest-ipc's extension; absent for every proxy upstream could serve
        body["tls"] = proxy.tls.to_json()
    return body


def toxic_json(toxic: ToxicConfig) -> dict[str, object]:
    return {**toxic.to_json(), "toxicity": Float32(toxic.toxicity)}


def json_response(status: int, body: object) -> Response:
    return Response(status, encode(body), [("Content-Type", JSON)])


def error_response(error: ApiError) -> Response:
    """What Go's http.Error makes of apiError's JSON: plain text with a trailing newline."""
    body = encode({"error": error.message, "status": error.status}) + b"\n"
    return Response(error.status, body, [("Content-Type", PLAIN), ("X-Content-Type-Options", "nosniff")])


def plain_response(status: int, text: str) -> Response:
    return Response(status, text.encode() + b"\n", [("Content-Type", PLAIN), ("X-Content-Type-Options", "nosniff")])


def protocol_error(status: int, message: str) -> Response:
    """For HttpServer: what Go's net/http answers to broken HTTP, a Toxiproxy-style 413, or the
    refusal of a foreign Host header (a DNS-rebinding defence real Toxiproxy lacks) saying why."""
    if status == 413:
        response = error_response(ApiError("bad request body: http: request body too large", 413))
    elif status == 403:
        response = plain_response(403, message)
    else:
        line = f"{status} {HTTPStatus(status).phrase}"
        response = Response(status, line.encode(), [("Content-Type", PLAIN)])
    response.headers.append(("Connection", "close"))
    return response


class RequestIds:
    """xid-style ids (time, host, pid, counter; 20 base32hex characters), as upstream's hlog makes."""

    def __init__(self) -> None:
        self._machine = secrets.token_bytes(3)
        self._counter = itertools.count(int.from_bytes(secrets.token_bytes(3), "big"))

    def next(self) -> str:
        raw = (
            struct.pack(">I", int(time.time()) & 0xFFFFFFFF)
            + self._machine
            + struct.pack(">H", os.getpid() & 0xFFFF)
            + (next(self._counter) & 0xFFFFFF).to_bytes(3, "big")
        )
        return base64.b32hexencode(raw).decode("ascii").lower().rstrip("=")


def clean_path(path: str) -> str:
    """gorilla/mux's cleanPath: path.Clean, keeping a trailing slash."""
    if path == "":
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    cleaned = re.sub("^/+", "/", posixpath.normpath(path))
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class ToxiproxyApi:
    """Routes requests to the collection; `handle` is an `HttpServer` handler."""

    def __init__(
        self, collection: ProxyCollection, *, proxy_metrics: bool = False, runtime_metrics: bool = False
    ) -> None:
        self.collection = collection
        self.proxy_metrics = proxy_metrics
        self.runtime_metrics = runtime_metrics
        self.request_ids = RequestIds()
        proxy, toxic = "(?P<proxy>[^/]+)", "(?P<toxic>[^/]+)"
        routes: list[tuple[str, dict[str, Endpoint]]] = [
            ("/reset", {"POST": self.reset}),
            ("/proxies", {"GET": self.proxy_index, "POST": self.proxy_create}),
            ("/populate", {"POST": self.populate}),
            (
                f"/proxies/{proxy}",
                {
                    "GET": self.proxy_show,
                    "POST": self.proxy_update,
                    "PATCH": self.proxy_update,
                    "DELETE": self.proxy_delete,
                },
            ),
            (f"/proxies/{proxy}/toxics", {"GET": self.toxic_index, "POST": self.toxic_create}),
            (
                f"/proxies/{proxy}/toxics/{toxic}",
                {
                    "GET": self.toxic_show,
                    "POST": self.toxic_update,
                    "PATCH": self.toxic_update,
                    "DELETE": self.toxic_delete,
                },
            ),
            ("/version", {"GET": self.version}),
        ]
        if proxy_metrics or runtime_metrics:
            routes.append(("/metrics", {"*": self.metrics}))
        self.routes = [(re.compile(pattern + "$"), methods) for pattern, methods in routes]
        # Paths upstream does not know: any other method gets upstream's 404 there, not a 405.
        extensions: list[tuple[str, dict[str, Endpoint]]] = [
            (f"/proxies/{proxy}/counters", {"GET": self.proxy_counters}),
            (f"/proxies/{proxy}/connections", {"GET": self.proxy_connections}),
            (f"/proxies/{proxy}/tls_fault", {"POST": self.tls_fault_set, "DELETE": self.tls_fault_clear}),
        ]
        self.extensions = [(re.compile(pattern + "$"), methods) for pattern, methods in extensions]

    # -- dispatch --------------------------------------------------------------------------------
    async def handle(self, request: Request, exchange: Exchange) -> Response:
        path = request.path
        cleaned = clean_path(path)
        if cleaned != path:
            location = quote(cleaned) + (f"?{request.query}" if request.query else "")
            return Response(301, b"", [("Location", location), ("Date", _date())])
        routed = self._route(request.method, path)
        if isinstance(routed, Response):  # 404 or 405: no middleware runs, as with gorilla/mux
            routed.headers.append(("Date", _date()))
            return routed
        endpoint, params = routed
        response = await self._call(endpoint, request, params)
        response.headers += [("Date", _date()), (REQUEST_ID_HEADER, self.request_ids.next())]
        return response

    def _route(self, method: str, path: str) -> tuple[Endpoint, Params] | Response:
        path_matched = False
        for pattern, methods in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            path_matched = True
            endpoint = methods.get(method) or methods.get("*")
            if endpoint is not None:
                return endpoint, match.groupdict()
        for pattern, methods in self.extensions:
            match = pattern.match(path)
            if match is not None and method in methods:
                return methods[method], match.groupdict()
        return Response(405) if path_matched else plain_response(404, "404 page not found")

    async def _call(self, endpoint: Endpoint, request: Request, params: Params) -> Response:
        if (request.header("user-agent") or "").startswith("Mozilla/"):
            return plain_response(403, "User agent not allowed")
        task = asyncio.ensure_future(endpoint(request, params))
        try:
            return await asyncio.wait_for(asyncio.shield(task), HANDLER_TIMEOUT)
        except ApiError as error:
            return error_response(error)
        except TimeoutError:
            task.add_done_callback(_log_late_failure)
            return Response(503, TIMEOUT_BODY)
        except Exception as error:  # an engine failure is a 500, as upstream reports unexpected errors
            logger.exception("%s %s failed", request.method, request.target)
            return error_response(ApiError(str(error) or type(error).__name__, 500))

    # -- proxies ---------------------------------------------------------------------------------
    async def proxy_index(self, request: Request, params: Params) -> Response:
        proxies = self.collection.proxies
        return json_response(200, {name: proxy_json(proxies[name]) for name in sorted(proxies)})

    async def proxy_create(self, request: Request, params: Params) -> Response:
        return json_response(201, proxy_json(await self.collection.create(request.body)))

    async def populate(self, request: Request, params: Params) -> Response:
        result: PopulateResult = await self.collection.populate(request.body)
        proxies = [proxy_json(proxy) for proxy in result.proxies] or None
        if result.error is None:
            return json_response(201, {"proxies": proxies})
        body = {"error": result.error.message, "status": result.error.status, "proxies": proxies}
        return json_response(result.error.status, body)

    async def proxy_show(self, request: Request, params: Params) -> Response:
        return json_response(200, proxy_json(self.collection.get(params["proxy"])))

    async def proxy_update(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        return json_response(200, proxy_json(await self.collection.update(proxy, request.body)))

    async def proxy_delete(self, request: Request, params: Params) -> Response:
        await self.collection.remove(params["proxy"])
        return Response(204)

    async def reset(self, request: Request, params: Params) -> Response:
        await self.collection.reset()
        return Response(204)

    # -- toxics ----------------------------------------------------------------------------------
    async def toxic_index(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        return json_response(200, [toxic_json(toxic) for toxic in proxy.list_toxics()])

    async def toxic_create(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        return json_response(200, toxic_json(await self.collection.add_toxic(proxy, request.body)))

    async def toxic_show(self, request: Request, params: Params) -> Response:
        toxic = self.collection.get(params["proxy"]).get_toxic(params["toxic"])
        if toxic is None:
            raise ApiError(*TOXIC_NOT_FOUND)
        return json_response(200, toxic_json(toxic))

    async def toxic_update(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        toxic = await self.collection.update_toxic(proxy, params["toxic"], request.body)
        return json_response(200, toxic_json(toxic))

    async def toxic_delete(self, request: Request, params: Params) -> Response:
        await self.collection.remove_toxic(self.collection.get(params["proxy"]), params["toxic"])
        return Response(204)

    # -- server ----------------------------------------------------------------------------------
    async def version(self, request: Request, params: Params) -> Response:
        body = f'{{"version": "{VERSION}"}}\n'.encode()
        return Response(200, body, [("Content-Type", "application/json;charset=utf-8")])

    async def metrics(self, request: Request, params: Params) -> Response:
        text = metrics.render(
            self.collection.proxies.values(), proxy_metrics=self.proxy_metrics, runtime_metrics=self.runtime_metrics
        )
        return Response(200, text.encode(), [("Content-Type", metrics.CONTENT_TYPE)])

    # -- extensions ------------------------------------------------------------------------------
    async def proxy_counters(self, request: Request, params: Params) -> Response:
        return json_response(200, self.collection.get(params["proxy"]).counters.to_json())

    async def proxy_connections(self, request: Request, params: Params) -> Response:
        return json_response(200, self.collection.get(params["proxy"]).live_connections())

    async def tls_fault_set(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        return json_response(200, (await self.collection.set_tls_fault(proxy, request.body)).to_json())

    async def tls_fault_clear(self, request: Request, params: Params) -> Response:
        await self.collection.clear_tls_fault(self.collection.get(params["proxy"]))
        return Response(204)


def _date() -> str:
    return formatdate(usegmt=True)


def _log_late_failure(task: asyncio.Future[Response]) -> None:
    if not task.cancelled() and isinstance(task.exception(), Exception) and not isinstance(task.exception(), ApiError):
        logger.error("a request finished after its 503 with %r", task.exception())
