"""A tiny service under test: on request it calls one of its dependencies and reports how it went.

Runs in a container (standard library only): ``GET /call/http`` fetches $STUB_URL + ``/price``,
``GET /call/wiremock`` fetches $WIREMOCK_URL + ``/price``, ``GET /call/redis`` sends PING to $REDIS_ADDRESS.
The answer is JSON with the dependency's reply and the service's own measurement; a failing
dependency gives 502 with the error.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEPENDENCY_TIMEOUT = float(os.environ.get("DEPENDENCY_TIMEOUT", "3"))


def fetch_price(base_url_variable: str) -> str:
    with urllib.request.urlopen(os.environ[base_url_variable] + "/price", timeout=DEPENDENCY_TIMEOUT) as reply:
        return str(reply.read().decode())


def call_redis() -> str:
    host, port = os.environ["REDIS_ADDRESS"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=DEPENDENCY_TIMEOUT) as sock:
        sock.sendall(b"PING\r\n")
        reply = sock.recv(64)
    if not reply:
        raise ConnectionError("redis closed the connection without a reply")
    return reply.decode().strip()


CALLS = {
    "/call/http": lambda: fetch_price("STUB_URL"),
    "/call/wiremock": lambda: fetch_price("WIREMOCK_URL"),
    "/call/redis": call_redis,
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        call = CALLS.get(self.path)
        if call is None:
            self.reply(200 if self.path == "/health" else 404, {"paths": sorted(CALLS)})
            return
        started = time.monotonic()
        result: dict[str, object]
        try:
            result = {"reply": call()}
            status = 200
        except Exception as error:  # any failure of the dependency is the answer
            result = {"error": f"{type(error).__name__}: {error}"}
            status = 502
        result["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        self.reply(status, result)

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads the JSON, not an access log


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
